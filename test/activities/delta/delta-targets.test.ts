// The signed delta index in a fleet whose targets key is offline: with the publish role delegated, the
// worker lists and removes on-demand deltas in that role with its release-publish and online keys, as
// a publish does; it never reads (or creates) a targets key file, and a verifier pinning the root
// finds the delta through the merged view. Without the delegation they stay in top-level targets.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addDeltaTarget, removeDeltaTargets } from '../../../activities/delta/delta-targets.js';
import { loadConfig } from '../../../config/load-config.js';
import { onDemandDeltasFor, onDemandTargetEntry, onDemandTargetPath, type TargetEntryLike } from '../../../release/on-demand-delta.js';
import type { Config } from '../../../schemas/config.js';
import { loadOrCreateSigningKey } from '../../../signing/keys.js';
import { LocalArtifactStore } from '../../../stores/local-store.js';
import { signingKeyFile, trustKeyPaths } from '../../../trust/key-files.js';
import { readRepository, verifyStoredRepository, writeRepository } from '../../../trust/metadata-store.js';
import { createRepository } from '../../../trust/repository.js';
import { tufSigningKey } from '../../../trust/tuf-keys.js';
import { newTufKey } from '../../support/fleet-tuf.js';

const HW = 'gw-delta-index';
const FROM = 'a'.repeat(64);
const TO = 'b'.repeat(64);
const path = onDemandTargetPath(HW, '1.3.0', FROM, 'ops');
const entry = onDemandTargetEntry({ format: 'ops', fromVersion: '1.0.0', fromSha256: FROM, toSha256: TO, location: 'deltas/sha256/cc', sha256: 'c'.repeat(64), length: 10_701 });

let root: string;
let config: Config;
let store: LocalArtifactStore;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'ota-delta-index-'));
  config = loadConfig({ env: { OTA_STATE_DIR: join(root, 'ota') }, cwd: root });
  if (config.store.kind !== 'local') throw new Error('expected the local artifact store');
  store = new LocalArtifactStore(config.store.dir);
});
afterEach(() => rm(root, { recursive: true, force: true }));

/** A repository whose root and targets keys exist only here (offline); the worker's key files are online and, if delegated, release-publish. */
async function fleet(delegated: boolean) {
  const paths = trustKeyPaths(config.trust, config.signing.keyPath);
  const rootKey = newTufKey();
  const releaseKey = await loadOrCreateSigningKey(config.signing.keyPath);
  const targetsKey = delegated ? newTufKey() : await signingKeyFile(paths.targets);
  const signing = { targetsKeys: [targetsKey], onlineKey: await signingKeyFile(paths.online), ...(delegated && { publishKey: await signingKeyFile(paths.publish) }), now: new Date() };
  const repo = createRepository({ rootKeys: [rootKey], threshold: 1, signers: [tufSigningKey(releaseKey.privateKey)], ...signing });
  await writeRepository(store, repo);
  return { paths, pinned: repo.roots[0]! };
}

async function verifiedTargets(pinned: Parameters<typeof verifyStoredRepository>[1]): Promise<Record<string, TargetEntryLike>> {
  return (await verifyStoredRepository(store, pinned, {}, new Date())).targets.signed.targets as unknown as Record<string, TargetEntryLike>;
}

describe('on-demand delta targets', () => {
  it('with the publish role delegated: listed in that role with the worker keys alone, no targets key read or created', async () => {
    const { paths, pinned } = await fleet(true);
    expect(await addDeltaTarget(config, store, path, entry)).toBe('changed');
    expect(existsSync(paths.targets)).toBe(false);
    const { repo } = await readRepository(store);
    expect(repo.published!.signed.targets[path]?.hashes.sha256).toBe('c'.repeat(64));
    expect(repo.targets.signed.targets[path]).toBeUndefined();
    expect(onDemandDeltasFor(await verifiedTargets(pinned), HW, '1.3.0', TO)).toMatchObject([{ fromSha256: FROM, length: 10_701 }]);
    // Listed again with the same bytes: nothing changes.
    expect(await addDeltaTarget(config, store, path, entry)).toBe('unchanged');
    expect(await removeDeltaTargets(config, store, [path])).toBe('changed');
    expect(onDemandDeltasFor(await verifiedTargets(pinned), HW, '1.3.0', TO)).toEqual([]);
    expect(existsSync(paths.targets)).toBe(false);
  });

  it('without the delegation: listed in top-level targets, signed by the targets key', async () => {
    const { pinned } = await fleet(false);
    expect(await addDeltaTarget(config, store, path, entry)).toBe('changed');
    const { repo } = await readRepository(store);
    expect(repo.targets.signed.targets[path]?.hashes.sha256).toBe('c'.repeat(64));
    expect(onDemandDeltasFor(await verifiedTargets(pinned), HW, '1.3.0', TO)).toMatchObject([{ fromSha256: FROM }]);
  });
});
