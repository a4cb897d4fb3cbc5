// The device's own signing key on disk: made on the device, private half never leaves it (PKCS#8
// PEM, mode 0600), public half (SPKI PEM) enrolled with the gateway. The key type itself is the
// envelope's (schemas/device-envelope.ts).
import { createPrivateKey } from 'node:crypto';
import { fromPrivateKey, generateDeviceKey, type DeviceKey } from '../../schemas/device-envelope.js';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { KeyAlgorithm } from '../../schemas/device-api.js';
import { fsyncDirectory } from '../../platform/atomic-write.js';

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
