// What a device presents at enrollment besides its key, put in place at provisioning
// (`ota-device provision --enrollment-token | --factory-cert --factory-key`), owner-only in stateDir:
// a per-device single-use token (removed once admitted), or a factory identity (IDevID): the
// manufacturer's certificate chain, whose key becomes the device key.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { certificatePemSchema } from '../../schemas/device-api.js';
import { algorithmOf } from '../../schemas/device-envelope.js';
import { writeFileAtomic } from '../../platform/atomic-write.js';

export class EnrollmentCredentialError extends Error {
  override name = 'EnrollmentCredentialError';
}

export const enrollmentTokenPath = (stateDir: string) => join(stateDir, 'enrollment-token');
export const factoryChainPath = (stateDir: string) => join(stateDir, 'factory-identity.pem');

async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** The PEM certificates of a chain file, leaf first; each checked against the device API's format. */
export function splitCertificates(text: string): string[] {
  const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)?.map((pem) => `${pem}\n`) ?? [];
  if (pems.length === 0 || pems.length > 4) throw new EnrollmentCredentialError(`a factory certificate chain holds 1 to 4 PEM certificates, found ${pems.length}`);
  for (const pem of pems) if (!certificatePemSchema.safeParse(pem).success) throw new EnrollmentCredentialError('a factory certificate is not a PEM certificate of at most 8 KiB');
  return pems;
}

export async function storedEnrollmentToken(stateDir: string): Promise<string | undefined> {
  return (await readIfPresent(enrollmentTokenPath(stateDir)))?.trim() || undefined;
}

export function checkEnrollmentTokenShape(token: string): string {
  if (!/^\S{16,256}$/.test(token)) throw new EnrollmentCredentialError('an enrollment token is 16 to 256 characters without spaces');
  return token;
}

export async function storeEnrollmentToken(stateDir: string, token: string): Promise<void> {
  checkEnrollmentTokenShape(token);
  await writeFileAtomic(enrollmentTokenPath(stateDir), `${token}\n`, { mode: 0o600 });
}

export async function forgetEnrollmentToken(stateDir: string): Promise<void> {
  await rm(enrollmentTokenPath(stateDir), { force: true });
}

export async function storedFactoryChain(stateDir: string): Promise<string[] | undefined> {
  const text = await readIfPresent(factoryChainPath(stateDir));
  return text === undefined ? undefined : splitCertificates(text);
}

export interface FactoryIdentity {
  chain: string[];
  keyPem: string;
}

/** Reads and checks a factory identity before anything is written: the key must be the leaf's, Ed25519 or P-256. */
export async function readFactoryIdentity(keyPath: string, chainText: string, chainFile: string): Promise<FactoryIdentity> {
  const chain = splitCertificates(chainText);
  let key;
  try {
    key = createPrivateKey(await readFile(keyPath, 'utf8'));
    algorithmOf(key);
  } catch (error) {
    throw new EnrollmentCredentialError(`--factory-key ${keyPath}: ${(error as Error).message}`);
  }
  if (!spki(key).equals(spki(chain[0]!))) throw new EnrollmentCredentialError(`--factory-key is not the key of the first certificate in ${chainFile}`);
  return { chain, keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

const spki = (k: Parameters<typeof createPublicKey>[0]) => createPublicKey(k).export({ type: 'spki', format: 'der' });

/** Installs a checked factory identity: its key becomes the device key (an existing, different device key is refused). */
export async function installFactoryIdentity(stateDir: string, identity: FactoryIdentity): Promise<void> {
  const devicePath = join(stateDir, 'device-key.pem');
  const existing = await readIfPresent(devicePath);
  if (existing !== undefined && !spki(createPrivateKey(existing)).equals(spki(identity.keyPem))) {
    throw new EnrollmentCredentialError('this device already has a different key (device-key.pem); provision the factory identity on a fresh state dir');
  }
  await writeFileAtomic(devicePath, identity.keyPem, { mode: 0o600 });
  await writeFileAtomic(factoryChainPath(stateDir), identity.chain.join(''), { mode: 0o600 });
}
