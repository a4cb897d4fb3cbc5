// What a publish does with the TUF repository. It never changes who may sign: a release key the
// targets role does not list is refused before anything is uploaded (naming its key id), and the
// published manifest becomes a target (sha256 + length), with targets, snapshot and timestamp re-signed.
import type { KeyObject } from 'node:crypto';
import { TufUnknownSignerError } from './errors.js';
import { hasRepository, readRepository, writeRepository, type MetadataStore } from './metadata-store.js';
import { assertReleaseSigner } from './release-signers.js';
import { addTarget, type OnlineSigning, type ReleaseTarget } from './repository.js';
import { tufPublicKey } from './tuf-keys.js';

export type PublishSigner = { mode: 'key'; publicKey: KeyObject } | { mode: 'keyless' };

/**
 * With a repository: the signer must be a current release signer (TUF_UNKNOWN_SIGNER, TUF_SIGNER_REVOKED),
 * and, given the manifest's store path, one whose hardware ids cover it (TUF_SIGNER_OUT_OF_SCOPE).
 * Returns false when the store has no repository (the signer is then pinned as before TUF).
 */
export async function checkPublishSigner(store: MetadataStore, signer: PublishSigner, manifestPath?: string): Promise<boolean> {
  if (!(await hasRepository(store))) return false;
  const { repo } = await readRepository(store);
  if (signer.mode === 'keyless') {
    throw new TufUnknownSignerError(`${store.location} has a TUF repository and its targets role lists keys only: a keyless release cannot be published there yet`);
  }
  assertReleaseSigner(repo.targets, tufPublicKey(signer.publicKey).keyID, manifestPath);
  return true;
}

/**
 * Adds the manifest as a target in a new targets version (snapshot and timestamp follow). One attempt:
 * the timestamp's compare-and-swap (or an immutable N.targets.json) fails when another publish won,
 * and the caller tries again. A target already listed with the same bytes changes nothing.
 */
export async function addReleaseTarget(store: MetadataStore, target: ReleaseTarget, signing: () => Promise<OnlineSigning>): Promise<'added' | 'listed' | 'no-repository'> {
  if (!(await hasRepository(store))) return 'no-repository';
  const before = await readRepository(store);
  const existing = before.repo.targets.signed.targets[target.path];
  if (existing && existing.length === target.length && existing.hashes.sha256 === target.sha256 && existing.custom.signer === target.signerKeyID) return 'listed';
  await writeRepository(store, addTarget(before.repo, target, await signing()), before);
  return 'added';
}
