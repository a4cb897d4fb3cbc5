// What a publish does with the TUF repository. It never changes who may sign: a release key the
// targets role does not list is refused before anything is uploaded (naming its key id), and the
// published manifest becomes a target (sha256 + length), with targets, snapshot and timestamp re-signed.
import type { KeyObject } from 'node:crypto';
import type { LocalTrustRootJSON } from '../signing/trust-root.js';
import { assertKeylessSignerListed, identifyKeylessSigner } from './keyless-signers.js';
import { releaseView } from './publish-role.js';
import { hasRepository, readRepository, writeRepository, type MetadataStore } from './metadata-store.js';
import { assertReleaseSigner } from './release-signers.js';
import { addTarget, assertWorkerMayPublish, type OnlineSigning, type ReleaseTarget } from './repository.js';
import { tufPublicKey } from './tuf-keys.js';

export type PublishSigner = { mode: 'key'; publicKey: KeyObject } | { mode: 'keyless' };

/**
 * With a repository: the signer must be a current release signer (TUF_UNKNOWN_SIGNER, TUF_SIGNER_REVOKED),
 * and, given the manifest's store path, one whose hardware ids cover it (TUF_SIGNER_OUT_OF_SCOPE); the worker
 * may publish at all (TUF_PUBLISHING_REVOKED) and, given its release-publish key, that key is not one
 * targets replaced (TUF_PUBLISH_KEY_REPLACED).
 * Returns false when the store has no repository (the signer is then pinned as before TUF).
 */
export async function checkPublishSigner(store: MetadataStore, signer: PublishSigner, manifestPath?: string, publishKeyID?: string): Promise<boolean> {
  if (!(await hasRepository(store))) return false;
  const { repo } = await readRepository(store);
  // Publishing revoked, or the worker's release-publish key replaced: refused before anything is uploaded.
  assertWorkerMayPublish(repo.targets, publishKeyID);
  // The keyless identity is known only once Fulcio issued the certificate: here the role must list one
  // (for this path); the bundle's identity is matched when the manifest becomes a target.
  if (signer.mode === 'keyless') {
    assertKeylessSignerListed(repo.targets, manifestPath);
    return true;
  }
  assertReleaseSigner(repo.targets, tufPublicKey(signer.publicKey).keyID, manifestPath);
  return true;
}

/**
 * Adds the manifest as a target in a new targets version (snapshot and timestamp follow). One attempt:
 * the timestamp's compare-and-swap (or an immutable N.targets.json) fails when another publish won,
 * and the caller tries again. A target already listed with the same bytes changes nothing.
 */
export async function addReleaseTarget(store: MetadataStore, release: ReleaseTarget | KeylessReleaseTarget, signing: () => Promise<OnlineSigning>): Promise<'added' | 'listed' | 'no-repository'> {
  if (!(await hasRepository(store))) return 'no-repository';
  const before = await readRepository(store);
  const target = 'bundle' in release ? keylessTarget(before.repo.targets, release) : release;
  const existing = releaseView(before.repo.targets, before.repo.published).signed.targets[target.path];
  if (existing && existing.length === target.length && existing.hashes.sha256 === target.sha256 && existing.custom.signer === target.signerKeyID) return 'listed';
  await writeRepository(store, addTarget(before.repo, target, await signing()), before);
  return 'added';
}

/** A manifest signed keyless: its bundle decides which listed identity (if any) is the signer. */
export interface KeylessReleaseTarget {
  path: string;
  bytes: Uint8Array;
  sha256: string;
  bundle: unknown;
  /** The Sigstore trust root with the Fulcio CA, Rekor and TSA the bundle must chain to. */
  sigstoreRoot: LocalTrustRootJSON;
}

function keylessTarget(targets: Parameters<typeof identifyKeylessSigner>[0], release: KeylessReleaseTarget): ReleaseTarget {
  const signer = identifyKeylessSigner(targets, release.bundle, release.bytes, release.sigstoreRoot, release.path);
  return { path: release.path, length: release.bytes.length, sha256: release.sha256, signerKeyID: signer.keyID, signerIdentity: signer.identity };
}
