// The signed delta index: on-demand deltas as TUF targets (release/on-demand-delta.ts), added and
// removed in new versions of the role the worker lists releases in, signed with the same keys as a
// publish (docs/trust.md, "On-demand deltas"). Snapshot and timestamp follow; the write is the timestamp's
// compare-and-swap, so a publish that lands meanwhile wins and this tries again on top of it.
import type { Config } from '../../schemas/config.js';
import { ConflictError, type ArtifactStore } from '../../stores/index.js';
import { workerSigning } from '../../trust/key-files.js';
import { readRepository, writeRepository } from '../../trust/metadata-store.js';
import { delegatesPublishing } from '../../trust/publish-role.js';
import { withWorkerTargets, workerTargetsOf } from '../../trust/repository.js';
import type { TargetEntryLike } from '../../release/on-demand-delta.js';

const ATTEMPTS = 10;

/**
 * One change of the worker's targets role (the publish role when delegated, else top-level targets):
 * `edit` gets its current targets map and returns the new one, or undefined when nothing needs to
 * change (a retry after the change landed, a path already gone).
 */
export async function changeDeltaTargets(config: Config, store: ArtifactStore, edit: (targets: Record<string, TargetEntryLike>) => Record<string, TargetEntryLike> | undefined): Promise<'changed' | 'unchanged'> {
  for (let attempt = 1; ; attempt++) {
    try {
      const before = await readRepository(store);
      const after = edit(workerTargetsOf(before.repo) as Record<string, TargetEntryLike>);
      if (!after) return 'unchanged';
      const signing = await workerSigning(config.trust, config.signing.keyPath, delegatesPublishing(before.repo.targets));
      await writeRepository(store, withWorkerTargets(before.repo, after, signing), before);
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
