// The repository in a real local artifact store: written, walked by a verifier from its pinned root,
// and refused when the store serves something else (oversized, rolled back, swapped, missing), with
// the verifier's remembered state carried between runs.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConflictError, LocalArtifactStore } from '../../stores/index.js';
import { readLocalTrust, writeLocalTrust } from '../../trust/local-trust.js';
import { readRepository, verifyStoredRepository, writeRepository } from '../../trust/metadata-store.js';
import { metadataBytes } from '../../trust/metadata.js';
import { addSigner, createRepository, refreshOnline } from '../../trust/repository.js';
import { rotateRoot } from '../../trust/root-rotation.js';
import { tufSigningKey } from '../../trust/tuf-keys.js';

const key = () => tufSigningKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);

describe('TUF metadata in the artifact store', () => {
  let dir: string;
  let store: LocalArtifactStore;
  const rootKeys = [key(), key()];
  const signing = { targetsKeys: [key()], onlineKey: key(), now: new Date() };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ota-tuf-store-'));
    store = new LocalArtifactStore(join(dir, 'store'));
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('is walked from the pinned root across a rotation, remembered, and refuses what the store swaps in', async () => {
    const repo = createRepository({ rootKeys, threshold: 2, signers: [key()], ...signing });
    await writeRepository(store, repo);
    const pinned = join(dir, 'trust');
    await writeLocalTrust(pinned, { root: repo.roots[0]!, seen: {} });

    const stored = await readRepository(store);
    const rotated = addSigner(rotateRoot(stored.repo, { signingKeys: rootKeys, now: new Date() }), key(), signing);
    await writeRepository(store, rotated, stored);

    const local = (await readLocalTrust(pinned))!;
    const verified = await verifyStoredRepository(store, local.root, local.seen, new Date());
    expect(verified.root.signed.version).toBe(2);
    expect(verified.seen).toMatchObject({ timestamp: 2, snapshot: 2, targets: 2 });
    await writeLocalTrust(pinned, { root: verified.root, seen: verified.seen });
    const after = (await readLocalTrust(pinned))!;
    expect(after.root.signed.version).toBe(2);

    // The store serves the old timestamp again: a rollback for this verifier.
    const timestampPath = join(dir, 'store', 'tuf', 'timestamp.json');
    await writeFile(timestampPath, metadataBytes(repo.timestamp));
    await expect(verifyStoredRepository(store, after.root, after.seen, new Date())).rejects.toMatchObject({ code: 'TUF_ROLLBACK' });
    // An endless timestamp stops at its limit.
    await writeFile(timestampPath, Buffer.alloc(64 * 1024, 32));
    await expect(verifyStoredRepository(store, after.root, after.seen, new Date())).rejects.toMatchObject({ code: 'TUF_OVERSIZED' });
    // A snapshot swapped for another version's bytes under the name the timestamp pins.
    await writeFile(timestampPath, metadataBytes(rotated.timestamp));
    await writeFile(join(dir, 'store', 'tuf', '2.snapshot.json'), metadataBytes(repo.snapshot));
    await expect(verifyStoredRepository(store, after.root, after.seen, new Date())).rejects.toMatchObject({ code: 'TUF_META_MISMATCH' });
  });

  it('lets only one of two concurrent changes land, and the loser retries past the versions it left behind', async () => {
    await writeRepository(store, createRepository({ rootKeys, threshold: 1, signers: [key()], ...signing }));
    const first = await readRepository(store);
    const second = await readRepository(store);
    await writeRepository(store, refreshOnline(first.repo, signing), first);
    await expect(writeRepository(store, addSigner(second.repo, key(), signing), second)).rejects.toBeInstanceOf(ConflictError);
    // The loser left 2.targets.json behind; its retry goes past it (targets 3) instead of conflicting for ever.
    const retry = await readRepository(store);
    expect(retry.repo.taken).toEqual({ targets: 2, snapshot: 2 });
    await writeRepository(store, addSigner(retry.repo, key(), signing), retry);
    const landed = await readRepository(store);
    expect(landed.repo.targets.signed.version).toBe(3);
    expect(landed.repo.timestamp.signed.version).toBe(3);
    expect((await verifyStoredRepository(store, landed.repo.roots[0]!, {}, new Date())).seen).toMatchObject({ targets: 3, snapshot: 3, timestamp: 3 });
  });

  it('answers TUF_NOT_INITIALIZED for a store without a repository', async () => {
    await expect(readRepository(store)).rejects.toMatchObject({ code: 'TUF_NOT_INITIALIZED' });
  });
});
