// Leaf certificates signed by the fleet CA's issuing intermediate: a server certificate for the
// gateway (serverAuth, the DNS names and IP addresses devices dial) and short-lived device
// certificates (clientAuth, the device id as a URI SAN) from a CSR or a bare public key.
import { createPublicKey } from 'node:crypto';
import { isIP } from 'node:net';
import { deviceIdSchema } from '../schemas/device-api.js';
import { algorithmOf, deviceKeyAlgorithm, UnsupportedDeviceKeyError } from '../schemas/device-envelope.js';
import { BadIssueRequestError } from './errors.js';
import type { FleetCa } from './fleet-ca.js';
import { validity } from './fleet-ca.js';
import { generateKeyPair, importSigningKey, privateKeyPem, randomSerial, SIGNING_ALGORITHM } from './keys.js';
import { x509 } from './x509.js';

export const DEFAULT_SERVER_DAYS = 30;
export const DEFAULT_DEVICE_HOURS = 24;
/** A CSR or public key PEM is a few hundred bytes; anything this large is not one. */
export const MAX_REQUEST_PEM_BYTES = 8 * 1024;

/** The URI SAN that names a device in its certificate. */
export function deviceUri(deviceId: string): string {
  return `urn:edge-ota:device:${deviceId}`;
}

/**
 * The URI SAN that marks a quarantine certificate (docs/attestation.md): issued to a device whose
 * attestation standing is not normal; the gateway reads it on every request and allows only
 * check-in, reports, heartbeats, attestation and the remediation release's downloads.
 */
export const QUARANTINE_URI = 'urn:edge-ota:standing:quarantine';

/** Does this subjectAltName string (Node's "URI:a, URI:b" form) carry the quarantine mark? Pure. */
export function hasQuarantineMark(subjectAltName: string | undefined): boolean {
  return (subjectAltName ?? '').split(/,\s*/).includes(`URI:${QUARANTINE_URI}`);
}

export interface IssuedCertificate {
  /** The leaf PEM. */
  certPem: string;
  /** Leaf then intermediate: what a TLS endpoint presents. */
  chainPem: string;
  serialNumber: string;
  /** As encoded in the certificate (whole seconds). */
  notBefore: Date;
  notAfter: Date;
}

export interface ServerCertificateRequest {
  dnsNames?: string[];
  ipAddresses?: string[];
  validityDays?: number;
  now?: Date;
}

const DNS_NAME = /^(?=.{1,253}$)(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** A fresh key and a server certificate for it; the key is returned because the gateway needs it. */
export async function issueServerCertificate(ca: FleetCa, request: ServerCertificateRequest): Promise<IssuedCertificate & { keyPem: string }> {
  const dnsNames = request.dnsNames ?? [];
  const ipAddresses = request.ipAddresses ?? [];
  if (dnsNames.length + ipAddresses.length === 0) throw new BadIssueRequestError('a server certificate needs at least one DNS name or IP address devices dial');
  for (const name of dnsNames) if (!DNS_NAME.test(name)) throw new BadIssueRequestError(`"${name}" is not a DNS name`);
  for (const ip of ipAddresses) if (isIP(ip) === 0) throw new BadIssueRequestError(`"${ip}" is not an IP address`);
  const keys = await generateKeyPair();
  const issued = await issueLeaf(ca, {
    subject: `CN=${dnsNames[0] ?? ipAddresses[0]}`,
    publicKey: keys.publicKey,
    names: [...dnsNames.map((value) => ({ type: 'dns' as const, value })), ...ipAddresses.map((value) => ({ type: 'ip' as const, value }))],
    purpose: x509.ExtendedKeyUsage.serverAuth,
    ...validity(request.now ?? new Date(), request.validityDays ?? DEFAULT_SERVER_DAYS),
  });
  return { ...issued, keyPem: await privateKeyPem(keys.privateKey) };
}

export interface DeviceCertificateRequest {
  deviceId: string;
  /** A PKCS#10 CSR (PEM) signed by the device key: proves the device holds it. */
  csrPem?: string;
  /** Or that CSR already parsed and verified (verifyDeviceCsr), when the caller checked its key first. */
  csr?: VerifiedCsr;
  /** Or the device's SPKI public key (PEM), e.g. the one it enrolled with. */
  publicKeyPem?: string;
  validityHours?: number;
  now?: Date;
  /** A quarantine certificate: the QUARANTINE_URI SAN and OU=quarantine in the subject. */
  quarantine?: boolean;
}

export async function issueDeviceCertificate(ca: FleetCa, request: DeviceCertificateRequest): Promise<IssuedCertificate> {
  if (!deviceIdSchema.safeParse(request.deviceId).success) throw new BadIssueRequestError(`"${request.deviceId}" is not a device id`);
  if ([request.csrPem, request.csr, request.publicKeyPem].filter((given) => given !== undefined).length !== 1) throw new BadIssueRequestError('give exactly one of a CSR or a public key');
  const publicKey = request.csr ? request.csr.publicKey : request.csrPem ? (await verifyDeviceCsr(request.csrPem)).publicKey : await spkiPublicKey(request.publicKeyPem!);
  const now = request.now ?? new Date();
  const hours = request.validityHours ?? DEFAULT_DEVICE_HOURS;
  return issueLeaf(ca, {
    subject: request.quarantine ? `CN=${request.deviceId}, OU=quarantine` : `CN=${request.deviceId}`,
    publicKey,
    names: [{ type: 'url', value: deviceUri(request.deviceId) }, ...(request.quarantine ? [{ type: 'url' as const, value: QUARANTINE_URI }] : [])],
    purpose: x509.ExtendedKeyUsage.clientAuth,
    ...validity(now, hours / 24),
  });
}

function boundedPem(pem: string, what: string): string {
  if (Buffer.byteLength(pem) > MAX_REQUEST_PEM_BYTES) throw new BadIssueRequestError(`${what} is larger than the ${MAX_REQUEST_PEM_BYTES} bytes allowed`);
  return pem;
}

/** A CSR whose signature verified, with the key it carries (as the issuer and as SPKI DER). */
export interface VerifiedCsr {
  publicKey: x509.PublicKey;
  publicKeyDer: Buffer;
}

/**
 * Parses a device CSR, checks its signature and that its key is one the device API accepts: once
 * per request (the gateway compares the key with the enrolled one, then issues from the same parse).
 */
export async function verifyDeviceCsr(pem: string): Promise<VerifiedCsr> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(boundedPem(pem, 'the CSR'));
  } catch (err) {
    throw new BadIssueRequestError(`the CSR does not parse (${(err as Error).message})`);
  }
  // The algorithm is read from the CSR's own structure (no second key decode); the signature check
  // below imports the key, which also proves it is a valid key of that algorithm.
  const algorithm = csr.publicKey.algorithm as { name: string; namedCurve?: string };
  deviceKeyOrBadRequest(() => deviceKeyAlgorithm(algorithm.name, algorithm.namedCurve));
  if (!(await csr.verify().catch(() => false))) throw new BadIssueRequestError('the CSR signature does not verify: it was not signed by the key it carries');
  return { publicKey: csr.publicKey, publicKeyDer: Buffer.from(csr.publicKey.rawData) };
}

async function spkiPublicKey(pem: string): Promise<x509.PublicKey> {
  try {
    return checkedKey(new x509.PublicKey(boundedPem(pem, 'the public key')));
  } catch (err) {
    if (err instanceof BadIssueRequestError) throw err;
    throw new BadIssueRequestError(`the public key does not parse (${(err as Error).message})`);
  }
}

/** Device keys are ECDSA P-256 or Ed25519, the two the device API accepts. */
function checkedKey(key: x509.PublicKey): x509.PublicKey {
  deviceKeyOrBadRequest(() => algorithmOf(createPublicKey({ key: Buffer.from(key.rawData), format: 'der', type: 'spki' })));
  return key;
}

function deviceKeyOrBadRequest(check: () => unknown): void {
  try {
    check();
  } catch (err) {
    if (err instanceof UnsupportedDeviceKeyError) throw new BadIssueRequestError(err.message);
    throw err;
  }
}

interface LeafSpec {
  subject: string;
  publicKey: x509.PublicKeyType;
  names: Array<{ type: 'dns' | 'ip' | 'url'; value: string }>;
  purpose: x509.ExtendedKeyUsage;
  notBefore: Date;
  notAfter: Date;
}

/** What every leaf from one issuing CA shares: its parsed certificate, imported key and key identifier. */
interface Issuer {
  cert: x509.X509Certificate;
  signingKey: Awaited<ReturnType<typeof importSigningKey>>;
  authorityKeyId: x509.AuthorityKeyIdentifierExtension;
}

// Parsing the intermediate and importing its key cost more than signing a leaf; a gateway issues
// thousands with the same CA, so they are made once per CA (keyed by its PEMs; a rotated CA is new).
const issuers = new Map<string, Promise<Issuer>>();
const MAX_ISSUERS = 8;

function issuerOf(ca: FleetCa): Promise<Issuer> {
  const id = `${ca.intermediate.certPem}\0${ca.intermediate.keyPem}`;
  let issuer = issuers.get(id);
  if (!issuer) {
    issuer = (async () => {
      const cert = new x509.X509Certificate(ca.intermediate.certPem);
      const signingKey = await importSigningKey(ca.intermediate.keyPem, 'the issuing CA key');
      return { cert, signingKey, authorityKeyId: await x509.AuthorityKeyIdentifierExtension.create(cert.publicKey) };
    })();
    if (issuers.size >= MAX_ISSUERS) issuers.delete(issuers.keys().next().value!);
    issuers.set(id, issuer);
    issuer.catch(() => issuers.delete(id));
  }
  return issuer;
}

async function issueLeaf(ca: FleetCa, spec: LeafSpec): Promise<IssuedCertificate> {
  const { cert: issuer, signingKey, authorityKeyId } = await issuerOf(ca);
  const serialNumber = randomSerial();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber,
    subject: spec.subject,
    issuer: issuer.subject,
    notBefore: spec.notBefore,
    notAfter: spec.notAfter < issuer.notAfter ? spec.notAfter : issuer.notAfter,
    publicKey: spec.publicKey,
    signingKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([spec.purpose], false),
      new x509.SubjectAlternativeNameExtension(spec.names, false),
      await x509.SubjectKeyIdentifierExtension.create(spec.publicKey),
      authorityKeyId,
    ],
  });
  const certPem = cert.toString('pem');
  return { certPem: `${certPem}\n`, chainPem: `${certPem}\n${ca.intermediate.certPem.trim()}\n`, serialNumber, notBefore: cert.notBefore, notAfter: cert.notAfter };
}
