// ECDSA P-256 signing keys on disk for key mode (air-gapped sites). P-256 because
// @sigstore/verify and cosign both verify ECDSA message signatures; Ed25519 works only for DSSE.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** PEM (SPKI) form of the public key, as cosign's --key expects. */
  publicKeyPem: string;
  /** Key hint carried in bundles and used as the trust-root key id: hex sha256 of the SPKI DER. */
  hint: string;
}

export function publicKeyHint(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ format: 'der', type: 'spki' })).digest('hex');
}

export function signingKeyFromPem(privatePem: string): SigningKey {
  const privateKey = createPrivateKey(privatePem);
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('signing key must be an ECDSA P-256 key (PKCS#8 PEM)');
  }
  const publicKey = createPublicKey(privateKey);
  return {
    privateKey,
    publicKey,
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    hint: publicKeyHint(publicKey),
  };
}

export function generateSigningKeyPem(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** Path of the public key written beside a private key (`fw.key` -> `fw.pub`). */
export function publicKeyPathFor(keyPath: string): string {
  return keyPath.replace(/(\.key|\.pem)?$/, '.pub');
}

/**
 * Loads the private key at keyPath, creating it (mode 0600, exclusive create so two
 * processes cannot both generate) when missing. The public key PEM is written beside it.
 */
export async function loadOrCreateSigningKey(keyPath: string): Promise<SigningKey & { created: boolean }> {
  let created = false;
  let pem: string;
  try {
    pem = await readFile(keyPath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await mkdir(dirname(keyPath), { recursive: true, mode: 0o700 });
    pem = generateSigningKeyPem();
    try {
      await writeFile(keyPath, pem, { mode: 0o600, flag: 'wx' });
      created = true;
    } catch (writeErr) {
      // Lost a race with another process: use the key it wrote.
      if ((writeErr as NodeJS.ErrnoException).code !== 'EEXIST') throw writeErr;
      pem = await readFile(keyPath, 'utf8');
    }
  }
  const key = signingKeyFromPem(pem);
  if (created) await writeFile(publicKeyPathFor(keyPath), key.publicKeyPem, { mode: 0o644 });
  return { ...key, created };
}
