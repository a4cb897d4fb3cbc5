// TUF keys from the platform's ECDSA P-256 keys. The key id is TUF's: sha256 of the canonical JSON
// of the key (spec 4.2), not the Sigstore hint (sha256 of the SPKI DER), which is kept beside it so a
// manifest bundle's signer can be matched to the targets role.
import { createHash, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { canonicalize } from '@tufjs/canonical-json';
import { Key, Signature, type Metadata, type Root, type Snapshot, type Targets, type Timestamp } from '@tufjs/models';
import { publicKeyHint } from '../signing/keys.js';

export const KEY_TYPE = 'ecdsa';
export const KEY_SCHEME = 'ecdsa-sha2-nistp256';

export interface TufPublicKey {
  keyID: string;
  key: Key;
  /** Sigstore key hint of the same key (sha256 of SPKI DER). */
  hint: string;
  publicKey: KeyObject;
}

export interface TufSigningKey extends TufPublicKey {
  privateKey: KeyObject;
}

export function tufPublicKey(publicKey: KeyObject): TufPublicKey {
  const pem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const body = { keytype: KEY_TYPE, scheme: KEY_SCHEME, keyval: { public: pem } };
  const keyID = createHash('sha256').update(canonicalize(body)).digest('hex');
  return { keyID, key: new Key({ keyID, keyType: KEY_TYPE, scheme: KEY_SCHEME, keyVal: { public: pem } }), hint: publicKeyHint(publicKey), publicKey };
}

export function tufSigningKey(privateKey: KeyObject): TufSigningKey {
  return { ...tufPublicKey(createPublicKey(privateKey)), privateKey };
}

/** The public key a TUF key entry carries (PEM SPKI), as a KeyObject. */
export function publicKeyOf(key: Key): KeyObject {
  return createPublicKey(key.keyVal.public!);
}

/** Adds one signature per key over the canonical JSON of `signed` (a second signature by a key replaces its first). */
export function signMetadata<T extends Root | Targets | Snapshot | Timestamp>(metadata: Metadata<T>, keys: TufSigningKey[]): Metadata<T> {
  for (const key of keys) {
    metadata.sign((bytes) => new Signature({ keyID: key.keyID, sig: sign('sha256', bytes, key.privateKey).toString('hex') }));
  }
  return metadata;
}
