// The TUF repository as pure functions: create, sign, add/revoke a signer, rotate the root, walk the
// root chain, verify timestamp -> snapshot -> targets -> manifest, and each refusal's code.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { metadataBytes, signedJSON } from '../../trust/metadata.js';
import { scopeOf, signersOf } from '../../trust/release-signers.js';
import { addSigner, addTarget, createRepository, latestRoot, refreshOnline, revokeSigner, type TufRepository } from '../../trust/repository.js';
import { acceptRoot, proposeRoot, rotateRoleKeys, rotateRoot, verifyRootChain } from '../../trust/root-rotation.js';
import { signMetadata } from '../../trust/tuf-keys.js';
import { tufSigningKey, type TufSigningKey } from '../../trust/tuf-keys.js';
import { verifyReleaseTarget, verifyRepository, verifySnapshot, verifyTimestamp, type TrustedVersions } from '../../trust/verify-roles.js';

const key = (): TufSigningKey => tufSigningKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
const T0 = new Date('2026-06-01T00:00:00Z');
const hours = (h: number) => new Date(T0.getTime() + h * 3_600_000);

function fixture() {
  const rootKeys = [key(), key(), key()];
  const targetsKey = key();
  const onlineKey = key();
  const signer = key();
  const signing = { targetsKeys: [targetsKey], onlineKey, now: T0 };
  const repo = createRepository({ rootKeys, threshold: 2, signers: [signer], ...signing });
  return { rootKeys, targetsKey, onlineKey, signer, signing, repo };
}

const walk = (repo: TufRepository, seen: TrustedVersions = {}, now = T0) => verifyRepository(repo, now, seen);

const manifest = Buffer.from('{"version":"1.0.0"}');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const PATH = 'releases/hw/1.0.0/manifest.json';

describe('TUF repository', () => {
  it('creates root (2 of 3), targets, snapshot and timestamp that verify in order, one signature per key', () => {
    const { repo } = fixture();
    const root = latestRoot(repo);
    expect(root.signed.roles.root!.threshold).toBe(2);
    expect(Object.keys(root.signatures)).toHaveLength(3);
    expect(Object.keys(repo.timestamp.signatures)).toHaveLength(1);
    expect(walk(repo).seen).toEqual({ timestamp: 1, snapshot: 1, targets: 1, newestSignedTime: '2026-06-01T00:00:00Z' });
  });

  it('adds a target only for a listed signer and checks the manifest against it', () => {
    const { repo, signer, signing } = fixture();
    const next = addTarget(repo, { path: PATH, length: manifest.length, sha256: sha(manifest), signerKeyID: signer.keyID }, signing);
    const { targets } = walk(next);
    expect(verifyReleaseTarget(targets, manifest, PATH)).toEqual({ path: PATH, signerKeyID: signer.keyID });
    expect(verifyReleaseTarget(targets, manifest).path).toBe(PATH);
    expect(() => verifyReleaseTarget(targets, Buffer.from('{"version":"9.0.0"}'), PATH)).toThrow(expect.objectContaining({ code: 'TUF_TARGET_MISMATCH' }));
    expect(() => verifyReleaseTarget(targets, manifest, 'releases/hw/2.0.0/manifest.json')).toThrow(expect.objectContaining({ code: 'TUF_TARGET_MISMATCH' }));
    const stranger = key();
    expect(() => addTarget(repo, { path: PATH, length: 1, sha256: sha(manifest), signerKeyID: stranger.keyID }, signing)).toThrow(
      expect.objectContaining({ code: 'TUF_UNKNOWN_SIGNER', message: expect.stringContaining(stranger.keyID) }),
    );
  });

  it('revokes a signer in a new targets version: its releases get TUF_SIGNER_REVOKED, the other signer still publishes', () => {
    const { repo, signer, signing } = fixture();
    const second = key();
    let next = addSigner(repo, second, signing);
    next = addTarget(next, { path: PATH, length: manifest.length, sha256: sha(manifest), signerKeyID: signer.keyID }, signing);
    next = revokeSigner(next, signer.keyID, signing);
    expect(next.targets.signed.version).toBe(4);
    const { targets } = walk(next);
    expect(() => verifyReleaseTarget(targets, manifest, PATH)).toThrow(expect.objectContaining({ code: 'TUF_SIGNER_REVOKED' }));
    expect(() => addTarget(next, { path: PATH, length: 1, sha256: 'a', signerKeyID: signer.keyID }, signing)).toThrow(expect.objectContaining({ code: 'TUF_SIGNER_REVOKED' }));
    expect(() => revokeSigner(next, second.keyID, signing)).toThrow(expect.objectContaining({ code: 'TUF_INVALID_CHANGE' }));
    expect(addTarget(next, { path: PATH, length: 1, sha256: 'a', signerKeyID: second.keyID }, signing).targets.signed.version).toBe(5);
  });

  it('a signer limited to some hardware ids lists and verifies only their releases (TUF_SIGNER_OUT_OF_SCOPE)', () => {
    const { repo, signer, signing } = fixture();
    const lineA = key();
    const OTHER = 'releases/gw-b/1.0.0/manifest.json';
    let next = addSigner(repo, lineA, signing, scopeOf(['gw-a', 'gw-c']));
    expect(signersOf(signedJSON(next.targets))).toEqual([
      expect.objectContaining({ keyID: signer.keyID, scope: 'all' }),
      expect.objectContaining({ keyID: lineA.keyID, scope: ['gw-a', 'gw-c'] }),
    ]);
    // TUF delegated roles, one per hardware id, each with its path pattern.
    expect(next.targets.signed.delegations?.roles?.['releases-for-gw-a']?.paths).toEqual(['releases/gw-a/*/manifest.json']);
    const target = (path: string, signerKeyID: string) => ({ path, length: manifest.length, sha256: sha(manifest), signerKeyID });
    next = addTarget(next, target('releases/gw-a/1.0.0/manifest.json', lineA.keyID), signing);
    expect(verifyReleaseTarget(walk(next).targets, manifest, 'releases/gw-a/1.0.0/manifest.json').signerKeyID).toBe(lineA.keyID);
    expect(() => addTarget(next, target(OTHER, lineA.keyID), signing)).toThrow(
      expect.objectContaining({ code: 'TUF_SIGNER_OUT_OF_SCOPE', message: expect.stringContaining('hardware gw-a, gw-c only') }),
    );
    // Narrowing a signer afterwards: what it signed for other hardware no longer verifies.
    next = addTarget(next, target(OTHER, signer.keyID), signing);
    next = addSigner(revokeSigner(next, signer.keyID, signing), signer, signing, scopeOf(['gw-a']));
    expect(() => verifyReleaseTarget(walk(next).targets, manifest, OTHER)).toThrow(expect.objectContaining({ code: 'TUF_SIGNER_OUT_OF_SCOPE' }));
    expect(() => scopeOf(['GW A'])).toThrow(expect.objectContaining({ code: 'TUF_INVALID_CHANGE' }));
  });

  it('refuses metadata not signed by its role, a rollback of versions, and swapped snapshot bytes', () => {
    const { repo, signing } = fixture();
    const forged = refreshOnline(repo, { onlineKey: key(), now: T0 });
    expect(() => walk({ ...forged, roots: repo.roots })).toThrow(expect.objectContaining({ code: 'TUF_THRESHOLD_NOT_MET' }));
    const newer = refreshOnline(repo, signing);
    const { seen } = walk(newer);
    expect(() => walk(repo, seen)).toThrow(expect.objectContaining({ code: 'TUF_ROLLBACK' }));
    const root = latestRoot(repo);
    const timestamp = verifyTimestamp(root, metadataBytes(newer.timestamp), {}, T0);
    expect(() => verifySnapshot(root, metadataBytes(repo.snapshot), timestamp, {}, T0)).toThrow(expect.objectContaining({ code: 'TUF_META_MISMATCH' }));
  });

  it('expires the timestamp after 24 h, and a clock set back does not revive it once a newer signed time was seen', () => {
    const { repo, signing } = fixture();
    expect(() => walk(repo, {}, hours(25))).toThrow(expect.objectContaining({ code: 'TUF_METADATA_EXPIRED' }));
    const later = refreshOnline(repo, { ...signing, now: hours(30) });
    const { seen } = walk(later, {}, hours(30));
    // A replay of the old timestamp with the clock moved back to when it was still valid.
    const root = latestRoot(repo);
    expect(() => verifyTimestamp(root, metadataBytes(repo.timestamp), { newestSignedTime: seen.newestSignedTime }, hours(1))).toThrow(
      expect.objectContaining({ code: 'TUF_METADATA_EXPIRED', message: expect.stringContaining('already seen') }),
    );
  });

  it('rotates the root under the threshold of N and of N+1; a device pinned at 1 catches up across two rotations', () => {
    const { repo, rootKeys } = fixture();
    const [a, b, c] = rootKeys as [TufSigningKey, TufSigningKey, TufSigningKey];
    const d = key();
    const e = key();
    // 2: c leaves, d joins (signed by a, b of root 1, and a, b, d of root 2).
    const v2 = rotateRoot(repo, { signingKeys: [a, b, d], newRootKeys: [a, b, d], now: T0 });
    // 3: only d and e, threshold 2: signed by b, d (root 2) and d, e (root 3).
    const v3 = rotateRoot(v2, { signingKeys: [b, d, e], newRootKeys: [d, e], threshold: 2, now: T0 });
    expect(latestRoot(v3).signed.version).toBe(3);
    const newest = verifyRootChain(v3.roots[0]!, v3.roots.slice(1).map(metadataBytes), T0);
    expect(newest.signed.roles.root!.keyIDs).toEqual([d.keyID, e.keyID]);
    // Not enough of root 1: only a signs.
    expect(() => rotateRoot(repo, { signingKeys: [a], now: T0 })).toThrow(expect.objectContaining({ code: 'TUF_THRESHOLD_NOT_MET' }));
    // Enough of root 1 but not of N+1's own threshold: new keys d, e (threshold 2) and only d signs.
    expect(() => rotateRoot(repo, { signingKeys: [a, b, d], newRootKeys: [d, e], threshold: 2, now: T0 })).toThrow(
      expect.objectContaining({ code: 'TUF_THRESHOLD_NOT_MET', message: expect.stringContaining('itself') }),
    );
    // Skipping a version, or a chain whose steps are out of order.
    expect(() => verifyRootChain(v3.roots[0]!, [metadataBytes(v3.roots[2]!)], T0)).toThrow(expect.objectContaining({ code: 'TUF_ROOT_CHAIN_BROKEN' }));
    // The newest root must not be expired.
    expect(() => verifyRootChain(v3.roots[0]!, v3.roots.slice(1).map(metadataBytes), hours(366 * 24))).toThrow(expect.objectContaining({ code: 'TUF_METADATA_EXPIRED' }));
    // Targets and timestamp keep verifying under root 3 (their keys were not rotated).
    expect(walk(v3).seen.targets).toBe(1);
  });

  it('rotates the targets and online keys in root N+1: the stolen keys sign nothing the newest root accepts; a device pinned at 1 follows', () => {
    const { repo, rootKeys, targetsKey, onlineKey, signer, signing } = fixture();
    const withRelease = addTarget(repo, { path: PATH, length: manifest.length, sha256: sha(manifest), signerKeyID: signer.keyID }, signing);
    const fresh = { targetsKeys: [key()], onlineKey: key(), now: T0 };
    const rotated = rotateRoleKeys(withRelease, { signingKeys: rootKeys.slice(0, 2), now: T0 }, fresh);
    const root2 = latestRoot(rotated);
    expect(root2.signed.version).toBe(2);
    expect(root2.signed.roles.targets!.keyIDs).toEqual([fresh.targetsKeys[0]!.keyID]);
    expect(root2.signed.roles.timestamp!.keyIDs).toEqual([fresh.onlineKey.keyID]);
    // The retired keys are gone from the root; the targets (and the release they list) carry over.
    expect(Object.keys(root2.signed.keys)).not.toContain(targetsKey.keyID);
    expect(Object.keys(root2.signed.keys)).not.toContain(onlineKey.keyID);
    const { targets, seen } = walk(rotated);
    expect(verifyReleaseTarget(targets, manifest, PATH).signerKeyID).toBe(signer.keyID);
    // A device pinned at root 1 walks to root 2 and trusts what the new keys signed.
    expect(verifyRootChain(latestRoot(repo), [metadataBytes(root2)], T0).signed.version).toBe(2);
    // The thief's old keys: a timestamp, and targets listing a release of their own, are refused.
    const stolenOnline = refreshOnline(rotated, { onlineKey, now: T0 });
    expect(() => walk(stolenOnline, seen)).toThrow(expect.objectContaining({ code: 'TUF_THRESHOLD_NOT_MET' }));
    const stolenTargets = addTarget(rotated, { path: 'releases/hw/6.6.6/manifest.json', length: 1, sha256: sha(manifest), signerKeyID: signer.keyID }, { ...fresh, targetsKeys: [targetsKey] });
    expect(() => walk(stolenTargets, seen)).toThrow(expect.objectContaining({ code: 'TUF_THRESHOLD_NOT_MET', message: expect.stringContaining('targets') }));
  });

  it('signs root N+1 offline: proposed with public keys, signed by each holder on its own, accepted at both thresholds', () => {
    const { repo, rootKeys } = fixture();
    const [a, b] = rootKeys as [TufSigningKey, TufSigningKey];
    const d = key();
    const proposal = proposeRoot(repo, { newRootKeys: [a, b, d].map(({ privateKey: _, ...pub }) => pub), now: T0 });
    expect(Object.keys(proposal.signatures)).toEqual([]);
    const signedByA = signMetadata(proposal, [a]);
    expect(() => acceptRoot(repo, signedByA)).toThrow(expect.objectContaining({ code: 'TUF_THRESHOLD_NOT_MET' }));
    const rotated = acceptRoot(repo, signMetadata(signMetadata(signedByA, [b]), [d]));
    expect(latestRoot(rotated).signed.roles.root!.keyIDs).toEqual([a.keyID, b.keyID, d.keyID]);
    expect(() => acceptRoot(rotated, latestRoot(rotated))).toThrow(expect.objectContaining({ code: 'TUF_ROOT_CHAIN_BROKEN' }));
  });

  it('refuses oversized and malformed metadata before and while parsing', () => {
    const { repo } = fixture();
    const root = latestRoot(repo);
    expect(() => verifyTimestamp(root, Buffer.alloc(17 * 1024, 32), {}, T0)).toThrow(expect.objectContaining({ code: 'TUF_OVERSIZED' }));
    expect(() => verifyTimestamp(root, Buffer.from('{"signed":'), {}, T0)).toThrow(expect.objectContaining({ code: 'TUF_MALFORMED_METADATA' }));
    expect(() => verifyTimestamp(root, metadataBytes(repo.snapshot), {}, T0)).toThrow(expect.objectContaining({ code: 'TUF_MALFORMED_METADATA' }));
  });
});
