// The fleet CA: an offline root (long-lived; its key is needed only to issue a new intermediate, so it
// can leave the machine) and an online issuing intermediate that signs gateway and device certificates.
// Pure apart from key generation: nothing here touches the disk (ca-files.ts does).
import { generateKeyPair, privateKeyPem, randomSerial, SIGNING_ALGORITHM } from './keys.js';
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
  const interKeys = await generateKeyPair();
  const intermediate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${name} Issuing CA`,
    issuer: root.subject,
    ...validity(now, options.intermediateValidityDays ?? DEFAULT_INTERMEDIATE_DAYS),
    publicKey: interKeys.publicKey,
    signingKey: rootKeys.privateKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      // Path length 0: the intermediate signs leaves only, never another CA.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(CA_USAGES, true),
      await x509.SubjectKeyIdentifierExtension.create(interKeys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(rootKeys.publicKey),
    ],
  });
  return {
    root: { certPem: root.toString('pem'), keyPem: await privateKeyPem(rootKeys.privateKey) },
    intermediate: { certPem: intermediate.toString('pem'), keyPem: await privateKeyPem(interKeys.privateKey) },
  };
}
