// A TUF repository described for people and machines: roles with versions, expiry, keys and
// thresholds, release signers, revoked signers. Shared by `ota trust` and the operator API.
import { Key } from '@tufjs/models';
import { publicKeyHint } from '../signing/keys.js';
import { keylessIdentityOf, type KeylessIdentity } from './keyless-signers.js';
import { signedJSON } from './metadata.js';
import { publishKeyIDOf, releaseView } from './publish-role.js';
import { replacedPublishKeysOf } from './publish-rotation.js';
import { revokedSignersOf, signersOf } from './release-signers.js';
import { latestRoot, type TufRepository } from './repository.js';
import { publicKeyOf } from './tuf-keys.js';

export interface RepositoryDescription {
  store: string;
  roles: Record<string, { version: number; expires: string; keyIDs: string[]; threshold: number }>;
  /** Each with its hardware ids ('all': every hardware id). */
  releaseSigners: Array<{ keyID: string; hint: string; hardware: 'all' | string[]; keyless?: KeylessIdentity }>;
  revokedSigners: Record<string, string>;
  targets: number;
  /** The worker's release-publish key, when targets delegates release manifests to it. */
  publishKey?: string;
  /** Release-publish keys replaced or revoked (rotate-publish-key, revoke-publish), with when. */
  replacedPublishKeys: Record<string, string>;
  keyFiles?: object;
}

export function describeRepository(repo: TufRepository): Omit<RepositoryDescription, 'store'> {
  const root = latestRoot(repo);
  const role = (name: string, md: { signed: { version: number; expires: string } }) => ({
    version: md.signed.version,
    expires: md.signed.expires,
    keyIDs: root.signed.roles[name]!.keyIDs,
    threshold: root.signed.roles[name]!.threshold,
  });
  return {
    roles: { root: role('root', root), targets: role('targets', repo.targets), snapshot: role('snapshot', repo.snapshot), timestamp: role('timestamp', repo.timestamp) },
    releaseSigners: signersOf(signedJSON(repo.targets)).map(({ keyID, key, scope }) => {
      const keyless = keylessIdentityOf(key);
      // A keyless signer has no key and so no Sigstore hint: its bundles carry a certificate instead.
      return keyless ? { keyID, hint: '', hardware: scope, keyless } : { keyID, hint: publicKeyHint(publicKeyOf(Key.fromJSON(keyID, key as never))), hardware: scope };
    }),
    revokedSigners: revokedSignersOf(repo.targets),
    targets: Object.keys(releaseView(repo.targets, repo.published).signed.targets).length,
    ...(publishKeyIDOf(repo.targets) && { publishKey: publishKeyIDOf(repo.targets) }),
    replacedPublishKeys: replacedPublishKeysOf(repo.targets),
  };
}
