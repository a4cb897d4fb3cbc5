// The fleet CA on disk: one folder (0700), one file per key and certificate (0600). The root key file
// may be moved off the machine after `ota fleet ca init`: issuing needs only the intermediate's key
// and the root certificate.
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CaExistsError, CaFolderNotPrivateError, CaMissingError } from './errors.js';
import { createFleetCa, type CreateFleetCaOptions, type FleetCa } from './fleet-ca.js';

export const CA_FILES = {
  rootCert: 'root.crt.pem',
  rootKey: 'root.key.pem',
  intermediateCert: 'intermediate.crt.pem',
  intermediateKey: 'intermediate.key.pem',
} as const;

export function caPaths(dir: string): Record<keyof typeof CA_FILES, string> {
  return Object.fromEntries(Object.entries(CA_FILES).map(([k, name]) => [k, join(dir, name)])) as Record<keyof typeof CA_FILES, string>;
}

async function readIfThere(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Writes the CA; refuses when one is there unless `force` (then the old files are replaced). */
export async function writeFleetCa(dir: string, ca: FleetCa, options: { force?: boolean } = {}): Promise<void> {
  const paths = caPaths(dir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // An existing folder others can read is not made private behind the operator's back (it may be /tmp): refuse.
  const mode = (await stat(dir)).mode & 0o777;
  if (mode & 0o077) throw new CaFolderNotPrivateError(`${dir} is mode ${mode.toString(8)}; the fleet CA needs a private folder (chmod 700 ${dir}, or a new folder)`);
  if ((await readIfThere(paths.rootCert)) !== undefined) {
    if (!options.force) throw new CaExistsError(`a fleet CA already exists in ${dir}; refusing to overwrite it (--force replaces it, and every certificate it issued stops being trusted)`);
    await Promise.all(Object.values(paths).map((p) => rm(p, { force: true })));
  }
  const contents: Array<[string, string | undefined]> = [
    [paths.rootKey, ca.root.keyPem],
    [paths.intermediateKey, ca.intermediate.keyPem],
    [paths.intermediateCert, ca.intermediate.certPem],
    // Last: its presence is what says "a CA is here".
    [paths.rootCert, ca.root.certPem],
  ];
  for (const [path, data] of contents) {
    if (data === undefined) continue;
    try {
      // Exclusive create: two processes creating the CA at once cannot both win.
      await writeFile(path, data, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new CaExistsError(`${path} appeared while the fleet CA was being written; another process created a CA in ${dir}`);
      throw err;
    }
  }
}

export async function readFleetCa(dir: string): Promise<FleetCa> {
  const paths = caPaths(dir);
  const [rootCert, rootKey, intermediateCert, intermediateKey] = await Promise.all([paths.rootCert, paths.rootKey, paths.intermediateCert, paths.intermediateKey].map(readIfThere));
  const missing = Object.entries({ [paths.rootCert]: rootCert, [paths.intermediateCert]: intermediateCert, [paths.intermediateKey]: intermediateKey }).filter(([, v]) => v === undefined);
  if (missing.length) throw new CaMissingError(`no usable fleet CA in ${dir}: missing ${missing.map(([p]) => p).join(', ')} (create one with \`ota fleet ca init\`)`);
  return { root: { certPem: rootCert!, keyPem: rootKey }, intermediate: { certPem: intermediateCert!, keyPem: intermediateKey! } };
}

/** The embedded default: the CA is created on first use, like the release signing key. */
export async function loadOrCreateFleetCa(dir: string, options: CreateFleetCaOptions = {}): Promise<FleetCa & { created: boolean }> {
  if ((await readIfThere(caPaths(dir).rootCert)) !== undefined) return { ...(await readFleetCa(dir)), created: false };
  const ca = await createFleetCa(options);
  try {
    await writeFleetCa(dir, ca);
  } catch (err) {
    // Lost a race with another process: use the CA it wrote.
    if (err instanceof CaExistsError) return { ...(await readFleetCa(dir)), created: false };
    throw err;
  }
  return { ...ca, created: true };
}

export interface CertificateSummary {
  subject: string;
  issuer: string;
  serialNumber: string;
  /** SHA-256 of the DER, colon-separated hex (as openssl x509 -fingerprint -sha256 prints it). */
  fingerprintSha256: string;
  notBefore: string;
  notAfter: string;
}

export function summarizeCertificate(pem: string): CertificateSummary {
  const cert = new X509Certificate(pem);
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    serialNumber: cert.serialNumber,
    fingerprintSha256: cert.fingerprint256,
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter: new Date(cert.validTo).toISOString(),
  };
}
