// Attack class: compromise of one release signer's key (Uptane: key compromise of one targets key).
// The operator lists a new signer and revokes the stolen one (`ota trust add-signer`, `revoke-signer`):
// releases the revoked key signed are refused with their own code (TUF_SIGNER_REVOKED), whatever the thief
// signs with it is no target (TUF_TARGET_MISMATCH); each refusal changes nothing. Releases the new signer
// signs keep installing.
import { describe, expect, it } from 'vitest';
import { manifestKey } from '../../release/layout.js';
import { generateSigningKeyPem, loadOrCreateSigningKey, signingKeyFromPem } from '../../signing/keys.js';
import { scopeOf } from '../../trust/release-signers.js';
import { addSigner, addTarget, revokeSigner, type TufRepository } from '../../trust/repository.js';
import { tufPublicKey } from '../../trust/tuf-keys.js';
import { DEVICE_HARDWARE } from '../support/device-releases.js';
import { releaseTarget } from '../support/fleet-tuf.js';
import { installFrom, refused, resignManifest, useTufAttackBench } from '../support/tuf-attack.js';

const bench = useTufAttackBench('targets-key');

describe('attack: compromise of one release signer key', () => {
  it('after revoke-signer, a release the revoked key signed: TUF_SIGNER_REVOKED; the new signer re-signs it and devices update', async () => {
    const { bundle, tuf, sim } = await bench().fleet('revoked');
    const successorKey = signingKeyFromPem(generateSigningKeyPem());
    const successor = tufPublicKey(successorKey.publicKey);
    await tuf.change((repo) => revokeSigner(addSigner(repo, successor, tuf.signing()), tuf.keys.release.keyID, tuf.signing()));
    const result = await refused(sim, () => installFrom(sim, bundle));
    expect(result.code).toBe('TUF_SIGNER_REVOKED');
    expect(result.message).toContain(tuf.keys.release.keyID);
    expect(result.after).toEqual(result.before);

    // The way back: the same manifest signed by the new signer, listed again as its target.
    await resignManifest(bundle, '1.0.1', successorKey);
    await tuf.change((repo) => addTarget(repo, { ...listedTarget(repo, '1.0.1'), signerKeyID: successor.keyID }, tuf.signing()));
    await expect(installFrom(sim, bundle)).resolves.toMatchObject({ outcome: 'installed', version: '1.0.1' });
  });

  it('the thief signs a manifest of their own with the stolen key: it is no target (TUF_TARGET_MISMATCH), nothing changes', async () => {
    const { bundle, tuf, sim } = await bench().fleet('stolen');
    await resignManifest(bundle, '1.0.1', await loadOrCreateSigningKey(bench().fixture.signingKeyPath), (m) => ({ ...m, securityVersion: 9 }));
    const result = await refused(sim, () => installFrom(sim, bundle));
    expect(result.code).toBe('TUF_TARGET_MISMATCH');
    expect(result.after).toEqual(result.before);
    expect(await releaseTarget(bundle, '1.0.1', tuf.keys.release.keyID)).not.toEqual(listedTarget(await tuf.read(), '1.0.1'));
  });

  it("another product line's signer: listed for other hardware only, a release for this device signed by it is refused (TUF_SIGNER_OUT_OF_SCOPE), nothing changes", async () => {
    const { bundle, tuf, sim } = await bench().fleet('other-line');
    const successor = tufPublicKey(signingKeyFromPem(generateSigningKeyPem()).publicKey);
    // The key that signed 1.0.1 now signs for another hardware id only (a delegated role per hardware id).
    await tuf.change((repo) => {
      const kept = revokeSigner(addSigner(repo, successor, tuf.signing()), tuf.keys.release.keyID, tuf.signing());
      return addSigner(kept, tuf.keys.release, tuf.signing(), scopeOf(['other-line-hw']));
    });
    const result = await refused(sim, () => installFrom(sim, bundle));
    expect(result.code).toBe('TUF_SIGNER_OUT_OF_SCOPE');
    expect(result.message).toContain('hardware other-line-hw only');
    expect(result.after).toEqual(result.before);
    // And the pipeline cannot list such a release either.
    const repo = await tuf.read();
    expect(() => addTarget(repo, { ...listedTarget(repo, '1.0.1'), signerKeyID: tuf.keys.release.keyID }, tuf.signing())).toThrow(
      expect.objectContaining({ code: 'TUF_SIGNER_OUT_OF_SCOPE' }),
    );
  });
});

/** The target entry of `version` as the repository lists it. */
function listedTarget(repo: TufRepository, version: string) {
  const path = manifestKey(DEVICE_HARDWARE, version);
  const entry = repo.targets.signed.targets[path]!;
  return { path, length: entry.length, sha256: entry.hashes.sha256!, signerKeyID: entry.custom.signer as string };
}
