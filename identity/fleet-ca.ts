// The fleet CA: an offline root (long-lived; its key is needed only to issue a new intermediate, so it
// can leave the machine) and an online issuing intermediate that signs gateway and device certificates.
// Pure apart from key generation: nothing here touches the disk (ca-files.ts does).
import { createPublicKey, type webcrypto } from 'node:crypto';
import { BadIssueRequestError } from './errors.js';
import { generateKeyPair, importSigningKey, privateKeyPem, randomSerial, SIGNING_ALGORITHM } from './keys.js';
import { x509 } from './x509.js';

export interface CertifiedKey {
  certPem: string;
  /** Absent for a root whose key was moved offline. */
  keyPem?: string;
}

export interface FleetCa {
  root: CertifiedKey;
  intermediate: CertifiedKey & { keyPem: string };
}

export interface CreateFleetCaOptions {
  /** Shown in both subjects: `CN=<name> Root CA`, `CN=<name> Issuing CA`. */
  name?: string;
  rootValidityDays?: number;
  intermediateValidityDays?: number;
  now?: Date;
}

export const DEFAULT_ROOT_DAYS = 20 * 365;
export const DEFAULT_INTERMEDIATE_DAYS = 3 * 365;
const DAY_MS = 86_400_000;

/** Leaves and CAs start a few minutes early so a device clock slightly behind still accepts them. */
export const CLOCK_SKEW_MS = 5 * 60_000;

export function validity(now: Date, days: number): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(now.getTime() - CLOCK_SKEW_MS), notAfter: new Date(now.getTime() + days * DAY_MS) };
}

type CryptoKey = webcrypto.CryptoKey;
const { KeyUsageFlags } = x509;
const CA_USAGES = KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign;

export async function createFleetCa(options: CreateFleetCaOptions = {}): Promise<FleetCa> {
  const name = options.name ?? 'edge-ota Fleet';
  const now = options.now ?? new Date();
  const rootKeys = await generateKeyPair();
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${name} Root CA`,
    ...validity(now, options.rootValidityDays ?? DEFAULT_ROOT_DAYS),
    keys: rootKeys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(CA_USAGES, true),
      await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey),
    ],
  });
  const intermediate = await issueIntermediate(root, rootKeys.privateKey, `CN=${name} Issuing CA`, options);
  return {
    root: { certPem: root.toString('pem'), keyPem: await privateKeyPem(rootKeys.privateKey) },
    intermediate,
  };
}

async function issueIntermediate(root: x509.X509Certificate, rootKey: CryptoKey, subject: string, options: CreateFleetCaOptions): Promise<FleetCa['intermediate']> {
  const keys = await generateKeyPair();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject,
    issuer: root.subject,
    ...validity(options.now ?? new Date(), options.intermediateValidityDays ?? DEFAULT_INTERMEDIATE_DAYS),
    publicKey: keys.publicKey,
    signingKey: rootKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      // Path length 0: the intermediate signs leaves only, never another CA.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(CA_USAGES, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(root.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await privateKeyPem(keys.privateKey) };
}

/**
 * A new issuing intermediate under the same root (routine renewal before it expires): devices keep the
 * root they pinned. The old intermediate stays valid for TLS clients that pin only the root until it
 * expires, so this is not the answer to a stolen intermediate key (docs/fleet-ca.md).
 */
export async function renewIntermediate(ca: FleetCa, rootKeyPem: string, options: Omit<CreateFleetCaOptions, 'name' | 'rootValidityDays'> = {}): Promise<FleetCa> {
  const root = new x509.X509Certificate(ca.root.certPem);
  const rootKey = await importSigningKey(rootKeyPem, 'the root key');
  const rootPublic = createPublicKey(ca.root.certPem).export({ format: 'der', type: 'spki' });
  if (!createPublicKey(rootKeyPem).export({ format: 'der', type: 'spki' }).equals(rootPublic)) throw new BadIssueRequestError('that root key is not the key of this CA\'s root certificate');
  const subject = new x509.X509Certificate(ca.intermediate.certPem).subject;
  return { root: ca.root, intermediate: await issueIntermediate(root, rootKey, subject, options) };
}
