// Replacing and revoking the worker's release-publish key (trust/publish-rotation.ts), as pure
// functions: what the new targets version delegates, what happens to the role's entries, and the codes
// a role still signed by the old key gets (TUF_PUBLISH_KEY_REPLACED) or a worker whose publishing was
// revoked gets (TUF_PUBLISHING_REVOKED).
import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signedJSON } from '../../trust/metadata.js';
import { publishKeyIDOf } from '../../trust/publish-role.js';
import { replacedPublishKeysOf, revokePublishing, rotatePublishKey } from '../../trust/publish-rotation.js';
import { acceptTargets, addSigner, addTarget, createRepository, delegatePublishing, nextPublished, refreshOnline, signedPublished, type TufRepository } from '../../trust/repository.js';
import { tufSigningKey, type TufSigningKey } from '../../trust/tuf-keys.js';
import { verifyReleaseTarget, verifyRepository } from '../../trust/verify-roles.js';

const key = (): TufSigningKey => tufSigningKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
const T0 = new Date('2026-06-01T00:00:00Z');
const T1 = new Date('2026-06-02T00:00:00Z');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const manifest = (v: string) => Buffer.from(`{"version":"${v}"}`);
const path = (v: string) => `releases/hw/${v}/manifest.json`;

function fixture() {
  const targetsKey = key();
  const onlineKey = key();
  const signer = key();
  const oldPublish = key();
  const newPublish = key();
  const admin = { targetsKeys: [targetsKey], onlineKey, now: T0 };
  const worker = (publishKey: TufSigningKey, now = T0) => ({ targetsKeys: [], onlineKey, publishKey, now });
  let repo = createRepository({ rootKeys: [key()], threshold: 1, signers: [signer], ...admin, publishKey: oldPublish });
  // 1.0.0 published by the worker with the old key, before anything was rotated.
  repo = addTarget(repo, target('1.0.0', signer.keyID), worker(oldPublish));
  return { targetsKey, onlineKey, signer, oldPublish, newPublish, admin, worker, repo };
}

function target(version: string, signerKeyID: string) {
  const bytes = manifest(version);
  return { path: path(version), length: bytes.length, sha256: sha(bytes), signerKeyID };
}

const walk = (repo: TufRepository, now = T1) => verifyRepository(repo, now);

describe('release-publish key rotation', () => {
  it('delegates the role to the new key only, records the old one as replaced, re-signs the releases published before with the new key', () => {
    const { repo, oldPublish, newPublish, admin, signer } = fixture();
    const rotated = rotatePublishKey(repo, newPublish, { ...admin, publishKey: newPublish, now: T1 });
    expect(rotated.targets.signed.version).toBe(repo.targets.signed.version + 1);
    expect(publishKeyIDOf(rotated.targets)).toBe(newPublish.keyID);
    expect(signedJSON(rotated.targets).delegations).not.toHaveProperty(['keys', oldPublish.keyID]);
    expect(replacedPublishKeysOf(rotated.targets)).toEqual({ [oldPublish.keyID]: '2026-06-02T00:00:00Z' });
    // The role's next version, signed by the new key only, still lists 1.0.0.
    expect(rotated.published!.signed.version).toBe(repo.published!.signed.version + 1);
    expect(Object.keys(rotated.published!.signatures)).toEqual([newPublish.keyID]);
    const { targets } = walk(rotated);
    expect(verifyReleaseTarget(targets, manifest('1.0.0'), path('1.0.0')).signerKeyID).toBe(signer.keyID);
  });

  it('after the rotation the new key publishes; the old key is refused by the worker (TUF_PUBLISH_KEY_REPLACED) and by a verifier when it signs the role anyway', () => {
    const { repo, oldPublish, newPublish, admin, worker, signer } = fixture();
    const rotated = rotatePublishKey(repo, newPublish, { ...admin, publishKey: newPublish, now: T1 });
    const published = addTarget(rotated, target('1.1.0', signer.keyID), worker(newPublish, T1));
    expect(verifyReleaseTarget(walk(published).targets, manifest('1.1.0'), path('1.1.0')).path).toBe(path('1.1.0'));

    expect(() => addTarget(rotated, target('1.1.0', signer.keyID), worker(oldPublish, T1))).toThrow(expect.objectContaining({ code: 'TUF_PUBLISH_KEY_REPLACED', message: expect.stringContaining(oldPublish.keyID) }));
    // The thief signs the role's next version with the old key (and the online key) by hand.
    const json = signedJSON(rotated.published!);
    json.targets = { ...(json.targets as object), [path('6.6.6')]: { length: 3, hashes: { sha256: sha(manifest('6.6.6')) }, custom: { signer: signer.keyID } } };
    const forged = refreshOnline({ ...rotated, published: signedPublished(json, rotated.published!.signed.version + 1, { publishKey: oldPublish, now: T1 }) }, worker(oldPublish, T1));
    expect(() => walk(forged)).toThrow(expect.objectContaining({ code: 'TUF_PUBLISH_KEY_REPLACED', message: expect.stringMatching(new RegExp(`signed by release-publish key ${oldPublish.keyID}, replaced at 2026-06-02T00:00:00Z; targets version \\d+ delegates the role to ${newPublish.keyID}`)) }));
    // A role signed by some other key is still what it was before: not the delegated key.
    const stranger = refreshOnline({ ...rotated, published: signedPublished(json, rotated.published!.signed.version + 1, { publishKey: key(), now: T1 }) }, worker(oldPublish, T1));
    expect(() => walk(stranger)).toThrow(expect.objectContaining({ code: 'TUF_THRESHOLD_NOT_MET' }));
  });

  it('the refresh with the old key at hand leaves the role alone instead of re-signing it with a replaced key', () => {
    const { repo, oldPublish, newPublish, admin, onlineKey } = fixture();
    const rotated = rotatePublishKey(repo, newPublish, { ...admin, publishKey: newPublish, now: T1 });
    const late = new Date(T1.getTime() + 80 * 24 * 3_600_000);
    const refreshed = refreshOnline(rotated, { onlineKey, publishKey: oldPublish, now: late });
    expect(refreshed.published).toBe(rotated.published);
    expect(refreshOnline(rotated, { onlineKey, publishKey: newPublish, now: late }).published!.signed.version).toBe(rotated.published!.signed.version + 1);
  });

  it('offline: the targets version written without the new private key leaves the role to `ota trust push`, which re-signs it with the new key (and refuses the old one)', () => {
    const { repo, oldPublish, newPublish, targetsKey, onlineKey } = fixture();
    // --out: signed by the targets key (ota trust sign), no release-publish key at hand.
    const offline = rotatePublishKey(repo, { keyID: newPublish.keyID, key: newPublish.key }, { targetsKeys: [targetsKey], onlineKey: key(), now: T1 });
    expect(offline.published).toBe(repo.published);
    expect(() => acceptTargets(repo, offline.targets, { onlineKey, publishKey: oldPublish, now: T1 })).toThrow(expect.objectContaining({ code: 'TUF_INVALID_CHANGE', message: expect.stringContaining('pass the new key with --publish-key') }));
    const pushed = acceptTargets(repo, offline.targets, { onlineKey, publishKey: newPublish, now: T1 });
    expect(Object.keys(pushed.published!.signatures)).toEqual([newPublish.keyID]);
    expect(pushed.published!.signed.targets[path('1.0.0')]).toBeDefined();
    expect(verifyReleaseTarget(walk(pushed).targets, manifest('1.0.0'), path('1.0.0')).path).toBe(path('1.0.0'));
  });

  it('refuses a rotation to the same key, back to a replaced key, or without a delegation; other targets changes keep the replaced keys', () => {
    const { repo, oldPublish, newPublish, admin } = fixture();
    expect(() => rotatePublishKey(repo, oldPublish, { ...admin, publishKey: oldPublish })).toThrow(expect.objectContaining({ code: 'TUF_INVALID_CHANGE' }));
    const rotated = rotatePublishKey(repo, newPublish, { ...admin, publishKey: newPublish });
    expect(() => rotatePublishKey(rotated, oldPublish, { ...admin, publishKey: oldPublish })).toThrow(expect.objectContaining({ code: 'TUF_INVALID_CHANGE', message: expect.stringContaining('never signs the role again') }));
    const plain = createRepository({ rootKeys: [key()], threshold: 1, signers: [key()], ...admin });
    expect(() => rotatePublishKey(plain, newPublish, { ...admin, publishKey: newPublish })).toThrow(expect.objectContaining({ code: 'TUF_INVALID_CHANGE', message: expect.stringContaining('delegate-publish') }));
    const later = addSigner(rotated, key(), admin);
    expect(replacedPublishKeysOf(later.targets)).toEqual(replacedPublishKeysOf(rotated.targets));
    expect(publishKeyIDOf(later.targets)).toBe(newPublish.keyID);
  });
});

describe('revoking the publish delegation', () => {
  it('removes the role: the worker cannot publish (TUF_PUBLISHING_REVOKED); its releases move into top-level targets and still verify', () => {
    const { repo, oldPublish, admin, worker, signer } = fixture();
    const revoked = revokePublishing(repo, { ...admin, now: T1 });
    expect(publishKeyIDOf(revoked.targets)).toBeUndefined();
    expect(replacedPublishKeysOf(revoked.targets)).toEqual({ [oldPublish.keyID]: '2026-06-02T00:00:00Z' });
    expect(revoked.targets.signed.targets[path('1.0.0')]).toBeDefined();
    expect(verifyReleaseTarget(walk(revoked).targets, manifest('1.0.0'), path('1.0.0')).signerKeyID).toBe(signer.keyID);
    expect(() => addTarget(revoked, target('1.1.0', signer.keyID), worker(oldPublish, T1))).toThrow(expect.objectContaining({ code: 'TUF_PUBLISHING_REVOKED' }));
    // Even signed by hand into the old role, it counts for nothing: the role is not delegated.
    const json = signedJSON(revoked.published!);
    json.targets = { [path('1.1.0')]: { length: target('1.1.0', signer.keyID).length, hashes: { sha256: target('1.1.0', signer.keyID).sha256 }, custom: { signer: signer.keyID } } };
    const forged = refreshOnline({ ...revoked, published: signedPublished(json, revoked.published!.signed.version + 1, { publishKey: oldPublish, now: T1 }) }, worker(oldPublish, T1));
    expect(() => verifyReleaseTarget(walk(forged).targets, manifest('1.1.0'), path('1.1.0'))).toThrow(expect.objectContaining({ code: 'TUF_TARGET_MISMATCH' }));
    expect(() => nextPublished(revoked, json, worker(oldPublish, T1))).toThrow(expect.objectContaining({ code: 'TUF_PUBLISHING_REVOKED' }));
  });

  it('with dropReleases the releases only the worker listed are no longer targets', () => {
    const { repo, admin } = fixture();
    const dropped = revokePublishing(repo, { ...admin, now: T1 }, { dropReleases: true });
    expect(() => verifyReleaseTarget(walk(dropped).targets, manifest('1.0.0'), path('1.0.0'))).toThrow(expect.objectContaining({ code: 'TUF_TARGET_MISMATCH' }));
  });

  it('delegated again to a new key, the role starts empty past every version the old one had; the revoked key cannot be delegated to again', () => {
    const { repo, oldPublish, newPublish, admin, worker, signer } = fixture();
    const revoked = revokePublishing(repo, { ...admin, now: T1 });
    expect(() => delegatePublishing(revoked, oldPublish, { ...admin, publishKey: oldPublish })).toThrow(expect.objectContaining({ code: 'TUF_INVALID_CHANGE' }));
    const again = delegatePublishing(revoked, newPublish, { ...admin, publishKey: newPublish, now: T1 });
    expect(again.published!.signed.version).toBe(repo.published!.signed.version + 1);
    expect(Object.keys(again.published!.signed.targets)).toEqual([]);
    expect(signedJSON(again.targets)).not.toHaveProperty('x-edge-ota-publishing-revoked');
    const published = addTarget(again, target('1.1.0', signer.keyID), worker(newPublish, T1));
    const { targets } = walk(published);
    expect(verifyReleaseTarget(targets, manifest('1.1.0'), path('1.1.0')).path).toBe(path('1.1.0'));
    expect(verifyReleaseTarget(targets, manifest('1.0.0'), path('1.0.0')).path).toBe(path('1.0.0'));
  });
});
