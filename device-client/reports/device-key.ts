// The device's own signing key: made on the device, private half never leaves it (PKCS#8 PEM,
// mode 0600), public half (SPKI PEM) enrolled with the gateway.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { KeyAlgorithm } from '../../schemas/device-api.js';
import { fsyncDirectory } from '../../platform/atomic-write.js';

export interface DeviceKey {
  algorithm: KeyAlgorithm;
  privateKey: KeyObject;
  /** SPKI PEM, what POST /v1/enroll takes. */
  publicKeyPem: string;
}

export function generateDeviceKey(algorithm: KeyAlgorithm): DeviceKey {
  const { privateKey } =
    algorithm === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return fromPrivateKey(privateKey);
}

/** The algorithm follows from the key itself, so a file cannot claim the wrong one. */
export function fromPrivateKey(privateKey: KeyObject): DeviceKey {
  const algorithm = algorithmOf(privateKey);
  return { algorithm, privateKey, publicKeyPem: createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString() };
}

export function algorithmOf(key: KeyObject): KeyAlgorithm {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ecdsa-p256-sha256';
  throw new Error(`unsupported device key type ${key.asymmetricKeyType}${key.asymmetricKeyDetails?.namedCurve ? ` (${key.asymmetricKeyDetails.namedCurve})` : ''}: use Ed25519 or ECDSA P-256`);
}

/** Loads the key at path, or makes one there on first use. */
export async function loadOrCreateDeviceKey(path: string, algorithm: KeyAlgorithm = 'ed25519'): Promise<DeviceKey> {
  try {
    return fromPrivateKey(createPrivateKey(await readFile(path, 'utf8')));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = generateDeviceKey(algorithm);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // Created 0600 from the start (never readable by others, not even briefly), then renamed into place.
  const temp = `${path}.${process.pid}.tmp`;
  const handle = await open(temp, 'w', 0o600);
  try {
    await handle.writeFile(key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
  await fsyncDirectory(dirname(path));
  return key;
}
