// The pure two-person release steps: thresholds per channel, approvals that are signatures of their own
// (a forged or revoked approver does not count), and the refusals.
import { createHash, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signedJSON, unsigned } from '../../trust/metadata.js';
import { MetadataKind } from '@tufjs/models';
import { approveRelease, assertReleaseApproved, releaseSignatures, releaseThreshold, requireSignatures } from '../../trust/release-approvals.js';
import { scopeOf } from '../../trust/release-signers.js';
import { addSigner, addTarget, createRepository, revokeSigner } from '../../trust/repository.js';
import { newTufKey } from '../support/fleet-tuf.js';

const now = new Date();
const [root, targetsKey, online, publisher, engineer, outsider] = Array.from({ length: 6 }, newTufKey);
const signing = { targetsKeys: [targetsKey!], onlineKey: online!, now };
const manifest = Buffer.from('{"version":"1.0.1"}');
const path = 'releases/hw/1.0.1/manifest.json';
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function repoWithRelease() {
  let repo = createRepository({ ...signing, rootKeys: [root!], threshold: 1, signers: [publisher!] });
  repo = addSigner(repo, engineer!, signing);
  return addTarget(repo, { path, length: manifest.length, sha256: sha256(manifest), signerKeyID: publisher!.keyID }, signing);
}

describe('two-person releases (trust/release-approvals.ts)', () => {
  it('a channel threshold is signed into targets; an approval by another signer meets it', () => {
    let repo = requireSignatures(repoWithRelease(), 'stable', 2, signing);
    expect(releaseThreshold(repo.targets, 'stable')).toBe(2);
    expect(releaseThreshold(repo.targets, 'beta')).toBe(1);
    expect(() => assertReleaseApproved(repo.targets, path, manifest, 'stable')).toThrow(expect.objectContaining({ code: 'TUF_THRESHOLD_NOT_MET' }));
    assertReleaseApproved(repo.targets, path, manifest, 'beta');
    repo = approveRelease(repo, path, manifest, engineer!, signing);
    assertReleaseApproved(repo.targets, path, manifest, 'stable');
    // Revoking the approver takes its approval away again.
    repo = revokeSigner(repo, engineer!.keyID, signing);
    expect(releaseSignatures(repo.targets, path, manifest)).toEqual([publisher!.keyID]);
  });

  it('a release engineer limited to other hardware cannot approve, and an approval kept from before a narrowing stops counting', () => {
    let repo = requireSignatures(repoWithRelease(), 'stable', 2, signing);
    const otherLine = newTufKey();
    repo = addSigner(repo, otherLine, signing, scopeOf(['gw-other']));
    expect(() => approveRelease(repo, path, manifest, otherLine, signing)).toThrow(expect.objectContaining({ code: 'TUF_SIGNER_OUT_OF_SCOPE' }));
    repo = approveRelease(repo, path, manifest, engineer!, signing);
    assertReleaseApproved(repo.targets, path, manifest, 'stable');
    repo = addSigner(revokeSigner(repo, engineer!.keyID, signing), engineer!, signing, scopeOf(['gw-other']));
    expect(releaseSignatures(repo.targets, path, manifest)).toEqual([publisher!.keyID]);
  });

  it('an approval not signed by the key it names (the targets key holder making one up) does not count', () => {
    const repo = requireSignatures(repoWithRelease(), 'stable', 2, signing);
    const json = signedJSON(repo.targets);
    (json.targets as Record<string, { custom: Record<string, unknown> }>)[path]!.custom.approvals = { [engineer!.keyID]: sign('sha256', manifest, outsider!.privateKey).toString('hex') };
    const forged = unsigned(MetadataKind.Targets, json);
    expect(releaseSignatures(forged, path, manifest)).toEqual([publisher!.keyID]);
  });

  it('refuses what makes no sense: a threshold above the signers, approving one\'s own release, an unlisted approver, a manifest that is not the target', () => {
    const repo = repoWithRelease();
    expect(() => requireSignatures(repo, 'stable', 3, signing)).toThrow(expect.objectContaining({ code: 'TUF_INVALID_CHANGE' }));
    expect(() => approveRelease(repo, path, manifest, publisher!, signing)).toThrow(expect.objectContaining({ code: 'TUF_INVALID_CHANGE' }));
    expect(() => approveRelease(repo, path, manifest, outsider!, signing)).toThrow(expect.objectContaining({ code: 'TUF_UNKNOWN_SIGNER' }));
    expect(() => approveRelease(repo, path, Buffer.from('{}'), engineer!, signing)).toThrow(expect.objectContaining({ code: 'TUF_TARGET_MISMATCH' }));
  });
});
