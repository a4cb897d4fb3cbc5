// Attack class: a compromised worker (Uptane: compromise of an online key). Top-level targets, signed by
// the offline targets key, delegates release manifests to the worker's release-publish key
// (trust/publish-role.ts); the worker holds that key and the online snapshot/timestamp key, not the
// targets key. With them it can list a manifest a listed release signer signed (the legitimate path),
// but adding a signer, lowering a channel's threshold, or naming signers inside its own role is refused:
// by the write's self-check (nothing written) and by the device (TUF_THRESHOLD_NOT_MET /
// TUF_UNKNOWN_SIGNER, nothing changed).
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { manifestKey } from '../../release/layout.js';
import { generateSigningKeyPem, signingKeyFromPem } from '../../signing/keys.js';
import { signedJSON } from '../../trust/metadata.js';
import { writeRepository } from '../../trust/metadata-store.js';
import { delegatesPublishing } from '../../trust/publish-role.js';
import { requireSignatures } from '../../trust/release-approvals.js';
import { signersDelegation } from '../../trust/release-signers.js';
import { addSigner, addTarget, delegatePublishing, nextPublished, type OnlineSigning } from '../../trust/repository.js';
import { tufSigningKey } from '../../trust/tuf-keys.js';
import { DEVICE_HARDWARE } from '../support/device-releases.js';
import { createFleetTuf, newTufKey, pinRoot, releaseTarget, writeMetadataFiles } from '../support/fleet-tuf.js';
import { installFrom, refused, resignManifest, useTufAttackBench } from '../support/tuf-attack.js';

const bench = useTufAttackBench('worker');
const path = manifestKey(DEVICE_HARDWARE, '1.0.1');

/** A fleet whose targets delegates publishing to the worker's key; only 1.0.0 listed (by the targets key, before). */
async function delegatedFleet(name: string) {
  const bundle = await bench().bundleCopy(name);
  const tuf = await createFleetTuf({ ...bench().fixture, storeDir: bundle }, { versions: ['1.0.0'] });
  const publishKey = newTufKey();
  await tuf.change((repo) => delegatePublishing(repo, publishKey, { ...tuf.signing(), publishKey }));
  const sim = await bench().device();
  await pinRoot(sim, await tuf.read());
  // All the worker holds: the release-publish key and the online key.
  const worker: OnlineSigning = { targetsKeys: [], onlineKey: tuf.keys.online, publishKey, now: new Date() };
  const files = () => readdir(join(bundle, 'tuf')).then((f) => f.sort());
  return { bundle, tuf, sim, publishKey, worker, files };
}

describe('attack: a compromised worker (release-publish and online keys, no targets key)', () => {
  it('the worker lists a release a listed release signer signed, with its keys alone: the device installs it', async () => {
    const { bundle, tuf, sim, worker } = await delegatedFleet('legit');
    expect(delegatesPublishing((await tuf.read()).targets)).toBe(true);
    const before = (await tuf.read()).targets.signed.version;
    const target = await releaseTarget(bundle, '1.0.1', tuf.keys.release.keyID);
    const after = await tuf.change((repo) => addTarget(repo, target, worker));
    // Top-level targets did not change: the entry is in the publish role.
    expect(after.targets.signed.version).toBe(before);
    expect(after.published!.signed.targets[path]).toBeDefined();
    await expect(installFrom(sim, bundle)).resolves.toMatchObject({ outcome: 'installed', version: '1.0.1' });
  });

  it('adds a signer of its own: the write refuses (TUF_THRESHOLD_NOT_MET, nothing written); written anyway, the device refuses it, nothing changes', async () => {
    const { bundle, tuf, sim, publishKey, worker, files } = await delegatedFleet('add-signer');
    const thief = tufSigningKey(signingKeyFromPem(generateSigningKeyPem()).privateKey);
    const repo = await tuf.read();
    const before = await files();
    // Signed by nothing, or by the keys the worker does hold: neither is the targets role's key.
    for (const targetsKeys of [[], [publishKey], [tuf.keys.online]]) {
      const forged = addSigner(repo, thief, { ...worker, targetsKeys });
      await expect(writeRepository(tuf.store, forged, { repo, timestampEtag: (await tuf.store.head('tuf/timestamp.json'))!.etag })).rejects.toMatchObject({ code: 'TUF_THRESHOLD_NOT_MET' });
      expect(await files()).toEqual(before);
    }
    // The thief's release, listed by a targets file the worker signed and wrote past the self-check.
    const thiefKey = signingKeyFromPem(generateSigningKeyPem());
    const thiefTuf = tufSigningKey(thiefKey.privateKey);
    await resignManifest(bundle, '1.0.1', thiefKey, (m) => ({ ...m, securityVersion: 9 }));
    let forged = addSigner(repo, thiefTuf, { ...worker, targetsKeys: [publishKey] });
    forged = addTarget(forged, await releaseTarget(bundle, '1.0.1', thiefTuf.keyID), { ...worker, targetsKeys: [publishKey] });
    await writeMetadataFiles(bundle, forged);
    const result = await refused(sim, () => installFrom(sim, bundle));
    expect(result.code).toBe('TUF_THRESHOLD_NOT_MET');
    expect(result.message).toMatch(/^TUF_THRESHOLD_NOT_MET: targets version \d+ is not signed by the threshold of root 1/);
    expect(result.after).toEqual(result.before);
  });

  it("lowers a channel's threshold: refused on write and on the device (TUF_THRESHOLD_NOT_MET), nothing changes", async () => {
    const { bundle, tuf, sim, publishKey, worker, files } = await delegatedFleet('threshold');
    const engineer = newTufKey();
    await tuf.change((repo) => requireSignatures(addSigner(repo, engineer, tuf.signing()), 'stable', 2, tuf.signing()));
    const repo = await tuf.read();
    const lowered = requireSignatures(addTarget(repo, await releaseTarget(bundle, '1.0.1', tuf.keys.release.keyID), worker), 'stable', 1, { ...worker, targetsKeys: [publishKey] });
    const before = await files();
    await expect(writeRepository(tuf.store, lowered, { repo, timestampEtag: (await tuf.store.head('tuf/timestamp.json'))!.etag })).rejects.toMatchObject({ code: 'TUF_THRESHOLD_NOT_MET' });
    expect(await files()).toEqual(before);
    await writeMetadataFiles(bundle, lowered);
    const result = await refused(sim, () => installFrom(sim, bundle));
    expect(result.code).toBe('TUF_THRESHOLD_NOT_MET');
    expect(result.after).toEqual(result.before);
  });

  it('names signers (and a threshold) inside its own role and lists its own release there: ignored, the device refuses the release (TUF_UNKNOWN_SIGNER), nothing changes', async () => {
    const { bundle, tuf, sim, worker } = await delegatedFleet('own-role');
    const thiefKey = signingKeyFromPem(generateSigningKeyPem());
    const thief = tufSigningKey(thiefKey.privateKey);
    await resignManifest(bundle, '1.0.1', thiefKey);
    const repo = await tuf.read();
    const json = signedJSON(repo.published!);
    json.delegations = signersDelegation([{ keyID: thief.keyID, key: thief.key.toJSON(), scope: 'all' }]);
    json['x-edge-ota-release-thresholds'] = { stable: 1 };
    const target = await releaseTarget(bundle, '1.0.1', thief.keyID);
    json.targets = { [path]: { length: target.length, hashes: { sha256: target.sha256 }, custom: { signer: thief.keyID } } };
    // Signed by the worker's own keys, it passes the write (the role is the worker's to sign)...
    await tuf.change(() => nextPublished(repo, json, worker));
    // ...but what it says about signers is not read: the device refuses the release.
    const result = await refused(sim, () => installFrom(sim, bundle));
    expect(result.code).toBe('TUF_UNKNOWN_SIGNER');
    expect(result.message).toContain(thief.keyID);
    expect(result.after).toEqual(result.before);
  });
});
