// The signed delta index: on-demand deltas as TUF targets (release/on-demand-delta.ts), added and
// removed in new targets versions signed by the targets key the worker already signs publishes with
// (docs/trust.md, "On-demand deltas"). Snapshot and timestamp follow; the write is the timestamp's
// compare-and-swap, so a publish that lands meanwhile wins and this tries again on top of it.
import type { Config } from '../../schemas/config.js';
import { ConflictError, type ArtifactStore } from '../../stores/index.js';
import { signingKeyFile, trustKeyPaths } from '../../trust/key-files.js';
import { signedJSON } from '../../trust/metadata.js';
import { readRepository, writeRepository } from '../../trust/metadata-store.js';
import { nextTargets, type OnlineSigning } from '../../trust/repository.js';
import type { TargetEntryLike } from '../../release/on-demand-delta.js';

const ATTEMPTS = 10;

async function signingFor(config: Config): Promise<OnlineSigning> {
  const paths = trustKeyPaths(config.trust, config.signing.keyPath);
  return { targetsKeys: [await signingKeyFile(paths.targets)], onlineKey: await signingKeyFile(paths.online), now: new Date() };
}

/**
 * One targets change: `edit` gets the current targets map and returns the new one, or undefined when
 * nothing needs to change (a retry after the change landed, a path already gone).
 */
export async function changeDeltaTargets(config: Config, store: ArtifactStore, edit: (targets: Record<string, TargetEntryLike>) => Record<string, TargetEntryLike> | undefined): Promise<'changed' | 'unchanged'> {
  for (let attempt = 1; ; attempt++) {
    try {
      const before = await readRepository(store);
      const json = signedJSON(before.repo.targets);
      const after = edit(json.targets as Record<string, TargetEntryLike>);
      if (!after) return 'unchanged';
      json.targets = after;
      await writeRepository(store, nextTargets(before.repo, json, await signingFor(config)), before);
      return 'changed';
    } catch (err) {
      if (!(err instanceof ConflictError) || attempt >= ATTEMPTS) throw err;
    }
  }
}

export async function addDeltaTarget(config: Config, store: ArtifactStore, path: string, entry: TargetEntryLike): Promise<'changed' | 'unchanged'> {
  return changeDeltaTargets(config, store, (targets) => {
    const existing = targets[path];
    if (existing && existing.length === entry.length && existing.hashes.sha256 === entry.hashes.sha256) return undefined;
    return { ...targets, [path]: entry };
  });
}

export async function removeDeltaTargets(config: Config, store: ArtifactStore, paths: readonly string[]): Promise<'changed' | 'unchanged'> {
  return changeDeltaTargets(config, store, (targets) => {
    const present = paths.filter((p) => p in targets);
    if (present.length === 0) return undefined;
    const next = { ...targets };
    for (const p of present) delete next[p];
    return next;
  });
}
