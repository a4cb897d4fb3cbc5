// Attack class: a stolen release-publish key after its rotation (Uptane: compromise of an online key,
// recovered by replacing it). The worker's key was stolen; the operator ran `ota trust rotate-publish-key`
// (trust/publish-rotation.ts), so targets delegates the publish role to a new key and remembers the old
// one as replaced. The thief, holding the old key and the online snapshot/timestamp key (the worker's
// keys), lists a release that a listed release signer did sign: the write's self-check refuses it, and
// written into the bundle anyway the device and `ota verify` refuse it (TUF_PUBLISH_KEY_REPLACED): nothing
// installed, slots, boot state, security version and trust state unchanged. Releases listed before the rotation
// stay installable (the rotation re-signed them with the new key), and the new key publishes.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename as name, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { manifestKey } from '../../release/layout.js';
import { emptyTrustRoot } from '../../signing/trust-root.js';
import { LocalArtifactStore } from '../../stores/local-store.js';
import { writeLocalTrust } from '../../trust/local-trust.js';
import { verifyThroughTuf } from '../../verification/tuf-release.js';
import { metadataBytes, signedJSON } from '../../trust/metadata.js';
import { writeRepository } from '../../trust/metadata-store.js';
import { PUBLISH_ROLE } from '../../trust/publish-role.js';
import { rotatePublishKey } from '../../trust/publish-rotation.js';
import { addTarget, delegatePublishing, refreshOnline, signedPublished, type OnlineSigning, type TufRepository } from '../../trust/repository.js';
import { DEVICE_HARDWARE } from '../support/device-releases.js';
import { createFleetTuf, newTufKey, pinRoot, releaseTarget, writeMetadataFiles } from '../support/fleet-tuf.js';
import { installFrom, refused, useTufAttackBench } from '../support/tuf-attack.js';

const bench = useTufAttackBench('publish-key');
const path = manifestKey(DEVICE_HARDWARE, '1.0.1');

/** A fleet delegating publishing to `stolen` (1.0.0 listed by the targets key; 1.0.1 by `stolen` if asked), then rotated to a new key. */
async function rotatedFleet(name: string, listBeforeRotation = false) {
  const bundle = await bench().bundleCopy(name);
  const tuf = await createFleetTuf({ ...bench().fixture, storeDir: bundle }, { versions: ['1.0.0'] });
  const stolen = newTufKey();
  await tuf.change((repo) => delegatePublishing(repo, stolen, { ...tuf.signing(), publishKey: stolen }));
  const thief: OnlineSigning = { targetsKeys: [], onlineKey: tuf.keys.online, publishKey: stolen, now: new Date() };
  // The worker published 1.0.1 with the key before it was stolen (and rotated).
  if (listBeforeRotation) {
    const target = await releaseTarget(bundle, '1.0.1', tuf.keys.release.keyID);
    await tuf.change((repo) => addTarget(repo, target, thief));
  }
  const sim = await bench().device();
  await pinRoot(sim, await tuf.read());
  const fresh = newTufKey();
  await tuf.change((repo) => rotatePublishKey(repo, fresh, { ...tuf.signing(), publishKey: fresh }));
  const worker: OnlineSigning = { targetsKeys: [], onlineKey: tuf.keys.online, publishKey: fresh, now: new Date() };
  const files = () => readdir(join(bundle, 'tuf')).then((f) => f.sort());
  return { bundle, tuf, sim, stolen, fresh, thief, worker, files };
}

/** The metadata as an attacker serves it, unchecked, with the publish role's file too. */
async function serve(bundle: string, repo: TufRepository): Promise<void> {
  await mkdir(join(bundle, 'tuf'), { recursive: true });
  await writeFile(join(bundle, 'tuf', `${repo.published!.signed.version}.${PUBLISH_ROLE}.json`), metadataBytes(repo.published!));
  await writeMetadataFiles(bundle, { snapshot: repo.snapshot, timestamp: repo.timestamp });
}

describe('attack: the release-publish key, stolen, signs after its rotation', () => {
  it('lists a release with the old key: the honest path and the write refuse it (TUF_PUBLISH_KEY_REPLACED, nothing written); served anyway, the device refuses it, nothing changes', async () => {
    const { bundle, tuf, sim, stolen, thief, files } = await rotatedFleet('after-rotation');
    const repo = await tuf.read();
    const target = await releaseTarget(bundle, '1.0.1', tuf.keys.release.keyID);
    // The code a worker left with the old key runs: refused before it signs anything.
    expect(() => addTarget(repo, target, thief)).toThrow(expect.objectContaining({ code: 'TUF_PUBLISH_KEY_REPLACED', message: expect.stringContaining(stolen.keyID) }));
    // By hand: the role's next version listing 1.0.1, signed by the old key, pinned by a snapshot the online key signs.
    const json = signedJSON(repo.published!);
    json.targets = { ...(json.targets as object), [path]: { length: target.length, hashes: { sha256: target.sha256 }, custom: { signer: target.signerKeyID } } };
    const forged = refreshOnline({ ...repo, published: signedPublished(json, repo.published!.signed.version + 1, thief) }, thief);
    const before = await files();
    await expect(writeRepository(tuf.store, forged, { repo, timestampEtag: (await tuf.store.head('tuf/timestamp.json'))!.etag })).rejects.toMatchObject({ code: 'TUF_PUBLISH_KEY_REPLACED' });
    expect(await files()).toEqual(before);

    await serve(bundle, forged);
    const result = await refused(sim, () => installFrom(sim, bundle));
    expect(result.code).toBe('TUF_PUBLISH_KEY_REPLACED');
    expect(result.message).toMatch(new RegExp(`^TUF_PUBLISH_KEY_REPLACED: ${PUBLISH_ROLE} version \\d+ is signed by release-publish key ${stolen.keyID}, replaced at `));
    expect(result.after).toEqual(result.before);

    // `ota verify` (verification/tuf-release.ts) on the served bundle, from a machine pinning root 1: the same code, nothing remembered.
    const verifier = join(bundle, '..', `${name(bundle)}-verifier`);
    await writeLocalTrust(verifier, { root: repo.roots[0]!, seen: {} });
    const trustBefore = await readFile(join(verifier, 'state.json'), 'utf8');
    const store = new LocalArtifactStore(bundle);
    await expect(
      verifyThroughTuf({ store, localTrustDir: verifier, trustRoot: emptyTrustRoot(), manifestBytes: await readFile(join(bundle, path)), manifestPath: path }),
    ).rejects.toMatchObject({ code: 'TUF_PUBLISH_KEY_REPLACED' });
    await store.close();
    expect(await readFile(join(verifier, 'state.json'), 'utf8')).toBe(trustBefore);
  });

  it('the new key lists the same release: the device installs it', async () => {
    const { bundle, tuf, sim, worker } = await rotatedFleet('new-key');
    const target = await releaseTarget(bundle, '1.0.1', tuf.keys.release.keyID);
    await tuf.change((repo) => addTarget(repo, target, worker));
    await expect(installFrom(sim, bundle)).resolves.toMatchObject({ outcome: 'installed', version: '1.0.1' });
  });

  it('a release the old key listed before the rotation stays installable: the rotation re-signed it with the new key', async () => {
    const { bundle, tuf, sim, fresh } = await rotatedFleet('listed-before', true);
    const repo = await tuf.read();
    expect(Object.keys(repo.published!.signatures)).toEqual([fresh.keyID]);
    expect(repo.published!.signed.targets[path]).toBeDefined();
    await expect(installFrom(sim, bundle)).resolves.toMatchObject({ outcome: 'installed', version: '1.0.1' });
  });
});
