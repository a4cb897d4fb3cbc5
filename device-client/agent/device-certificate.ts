// The device's transport identity: the fleet CA roots it trusts (stateDir/fleet-ca.pem as provisioned,
// or the roots its last verified TUF walk listed, trust-precedence.ts), and its
// short-lived client certificate for its enrolled key (stateDir/device-cert.pem), both 0600. A
// device whose key is TPM-held cannot do a TLS handshake with it (Node's TLS needs the private key):
// its certificate is for a software TLS key made for that one certificate (stateDir/tls-key.pem,
// 0600), whose request the TPM-held key signs together with a fresh quote (docs/attestation.md). The
// certificate is requested after enrollment, renewed during check-in once 2/3 of its lifetime has
// passed, and re-issued by a request signed with the enrolled key when it expired offline. Every
// gateway request goes through the client built here: https with the trusted roots only (read per
// request, so a rotation walked in this round applies to the next request), the certificate when there
// is one; http:// only with the lab flag transport.insecurePlainHttp.
import { createPrivateKey as createPrivateKeyFrom, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CodedError } from '../../platform/coded-error.js';
import { writeFileAtomic } from '../../platform/atomic-write.js';
import { tlsFetch, type TlsFetchOptions } from '../../platform/tls-fetch.js';
import { createDeviceCsr } from '../../identity/csr.js';
import { deviceUri, hasQuarantineMark } from '../../identity/issue.js';
import { quoteQualifyingData } from '../../schemas/attestation-api.js';
import { fromPrivateKey, signEnvelope, type HeldDeviceKey } from '../../schemas/device-envelope.js';
import { ensureAttestationKeyRegistered } from '../tpm/attest-due.js';
import { quotePcrs } from '../tpm/tpm-pcr.js';
import { verifyChain } from '../../identity/verify-chain.js';
import { renewalTime } from '../../schemas/device-certificate.js';
import type { DeviceKey, DeviceSigner } from '../../schemas/device-envelope.js';
import type { DeviceConfig } from '../config.js';
import { GatewayClient, GatewayRefusedError } from '../gateway/gateway-client.js';
import { deviceKeyPath } from './enroll.js';
import { pinsTufRoot } from './device-trust.js';
import { gatewayTrustPath, readGatewayTrust } from './gateway-trust.js';
import { fleetRootsToTrust, type TrustedFleetRoots } from './trust-precedence.js';

export type TransportErrorCode = 'GATEWAY_PLAIN_HTTP_REFUSED' | 'FLEET_CA_NOT_PINNED' | 'FLEET_CA_INVALID' | 'DEVICE_CERTIFICATE_INVALID';

/** The device refuses this transport before sending anything. */
export class TransportRefusedError extends CodedError<TransportErrorCode> {}

export const fleetCaPath = (stateDir: string) => join(stateDir, 'fleet-ca.pem');
export const deviceCertificatePath = (stateDir: string) => join(stateDir, 'device-cert.pem');
/** The TLS key of a TPM device's current certificate (a software key, one per certificate). */
export const tlsKeyPath = (stateDir: string) => join(stateDir, 'tls-key.pem');

/**
 * A quarantine certificate is renewed this long after its notBefore (backdated 5 min for clock
 * skew), with a fresh quote, so a remediated device leaves quarantine within about 10 minutes.
 */
export const QUARANTINE_RENEW_SECONDS = 900;

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const MAX_CA_PEM_BYTES = 16 * 1024;

/** The one self-signed CA certificate `pem` must be, or FLEET_CA_INVALID. Writes nothing. */
export function checkFleetCa(pem: string): { pem: string; root: X509Certificate } {
  const blocks = pem.length > MAX_CA_PEM_BYTES ? [] : (pem.match(PEM_CERTIFICATE) ?? []);
  if (blocks.length !== 1) throw new TransportRefusedError('FLEET_CA_INVALID', 'the fleet CA file must hold exactly one PEM certificate (root.crt.pem from `ota fleet ca init`)');
  let root: X509Certificate;
  try {
    root = new X509Certificate(blocks[0]!);
  } catch (error) {
    throw new TransportRefusedError('FLEET_CA_INVALID', `the fleet CA certificate does not parse: ${(error as Error).message}`);
  }
  if (!root.ca || !root.checkIssued(root) || !root.verify(root.publicKey)) throw new TransportRefusedError('FLEET_CA_INVALID', 'the fleet CA file is not a self-signed CA certificate (pin the root, not the intermediate)');
  return { pem: `${blocks[0]}\n`, root };
}

/** Pins the fleet CA root (0600) after checkFleetCa. */
export async function pinFleetCa(stateDir: string, pem: string): Promise<X509Certificate> {
  const checked = checkFleetCa(pem);
  await writeFileAtomic(fleetCaPath(stateDir), checked.pem, { mode: 0o600 });
  return checked.root;
}

async function readIfThere(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
}

/** The fleet CA roots this device trusts now (pinned file or TUF list), or undefined when it has neither. */
export async function trustedFleetRoots(config: Pick<DeviceConfig, 'stateDir' | 'trust'>): Promise<TrustedFleetRoots | undefined> {
  return fleetRootsToTrust({ tufRoot: pinsTufRoot(config), listed: await readGatewayTrust(config), pinned: await readIfThere(fleetCaPath(config.stateDir)) });
}

const notPinned = (config: Pick<DeviceConfig, 'stateDir'>) =>
  new TransportRefusedError('FLEET_CA_NOT_PINNED', `no fleet CA pinned (${fleetCaPath(config.stateDir)}) and none listed by TUF: provision the device with --fleet-ca root.crt.pem`);

/**
 * The gateway client of this device for `url` (default its gatewayUrl): refuses http:// unless the lab
 * flag is set, and https:// without a trusted fleet CA; the roots and the client certificate are read per request.
 */
export function deviceGatewayClient(config: Pick<DeviceConfig, 'gatewayUrl' | 'stateDir' | 'transport' | 'trust'>, url = config.gatewayUrl, options: TlsFetchOptions = {}): GatewayClient {
  if (!url) throw new Error('no gatewayUrl in the device configuration');
  const protocol = new URL(url).protocol;
  if (protocol === 'http:') {
    if (!config.transport.insecurePlainHttp) throw new TransportRefusedError('GATEWAY_PLAIN_HTTP_REFUSED', `refusing plain HTTP to ${url}: the gateway must be https (transport.insecurePlainHttp is for labs only)`);
    return new GatewayClient(url);
  }
  if (protocol !== 'https:') throw new TransportRefusedError('GATEWAY_PLAIN_HTTP_REFUSED', `gatewayUrl must be https://, got ${protocol}`);
  if (!existsSync(fleetCaPath(config.stateDir)) && !existsSync(gatewayTrustPath(config))) throw notPinned(config);
  const identity = async () => {
    const trusted = await trustedFleetRoots(config);
    if (!trusted) throw notPinned(config);
    // One PEM bundle: the server's chain may end in any listed root (a rotation overlaps).
    const ca = trusted.roots.join('\n');
    const cert = await readIfThere(deviceCertificatePath(config.stateDir));
    if (!cert) return { ca };
    // A TPM device's certificate is for its TLS key; a software device's for its enrolled key.
    return { ca, cert, key: (await readIfThere(tlsKeyPath(config.stateDir))) ?? (await readFile(deviceKeyPath(config.stateDir), 'utf8')) };
  };
  return new GatewayClient(url, { fetch: tlsFetch(identity, options) });
}

export interface CertificateStatus {
  action: 'kept' | 'issued' | 'renewed' | 'not-needed';
  serialNumber?: string;
  notAfter?: string;
  /** `quarantine`: a marked certificate that only reaches remediation (docs/attestation.md). */
  standing?: 'normal' | 'quarantine';
}

/** The held certificate's validity, if it is one for this key. */
function heldCertificate(pem: string | undefined, key: { publicKeyPem: string } | undefined): X509Certificate | undefined {
  if (!pem || !key) return undefined;
  try {
    const cert = new X509Certificate(pem);
    return cert.publicKey.export({ format: 'der', type: 'spki' }).equals(createPublicKey(key.publicKeyPem).export({ format: 'der', type: 'spki' })) ? cert : undefined;
  } catch {
    return undefined;
  }
}

/** Renew at 2/3 of the lifetime; a quarantine certificate already after QUARANTINE_RENEW_SECONDS. */
function renewDue(held: X509Certificate, now: Date): boolean {
  const from = new Date(held.validFrom);
  if (hasQuarantineMark(held.subjectAltName)) return now.getTime() >= Math.min(renewalTime(from, new Date(held.validTo)).getTime(), from.getTime() + QUARANTINE_RENEW_SECONDS * 1000);
  return now >= renewalTime(from, new Date(held.validTo));
}

const standingOf = (cert: X509Certificate): 'normal' | 'quarantine' => (hasQuarantineMark(cert.subjectAltName) ? 'quarantine' : 'normal');

async function readTlsKey(stateDir: string): Promise<DeviceKey | undefined> {
  const pem = await readIfThere(tlsKeyPath(stateDir));
  if (!pem) return undefined;
  try {
    return fromPrivateKey(createPrivateKeyFrom(pem));
  } catch {
    return undefined;
  }
}

/**
 * Makes sure the device holds a certificate it need not renew yet: none, past 2/3 of its lifetime,
 * expired, or not for its key → a new one from POST /v1/certificates, checked against the pinned
 * root (chain, clientAuth, this device's id, this key) before it is kept. Plain-HTTP labs need none.
 * A TPM-held key gets its certificate for a fresh TLS key, with a quote over a fresh nonce.
 */
export async function ensureDeviceCertificate(
  config: Pick<DeviceConfig, 'deviceId' | 'stateDir' | 'gatewayUrl' | 'trust'> & { tpm?: DeviceConfig['tpm'] },
  client: GatewayClient,
  signer: DeviceSigner,
  now = new Date(),
): Promise<CertificateStatus> {
  if (!client.baseUrl.startsWith('https:')) return { action: 'not-needed' };
  const path = deviceCertificatePath(config.stateDir);
  const tpmHeld = 'signBytes' in signer;
  const certifiedKey = tpmHeld ? await readTlsKey(config.stateDir) : signer;
  const held = heldCertificate(await readIfThere(path), certifiedKey);
  if (held && !renewDue(held, now)) return { action: 'kept', serialNumber: held.serialNumber.toLowerCase(), notAfter: new Date(held.validTo).toISOString(), standing: standingOf(held) };
  let answer;
  let key: DeviceKey;
  try {
    if (tpmHeld) {
      key = fromPrivateKey(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey);
      answer = await requestWithTpm(config, client, signer, key);
    } else {
      key = signer;
      answer = await client.requestCertificate(key, config.deviceId, await createDeviceCsr(key.privateKey, config.deviceId));
    }
  } catch (error) {
    // A gateway with TLS but without mutual TLS issues nothing: requests go without a certificate.
    if (error instanceof GatewayRefusedError && error.status === 404 && !held) return { action: 'not-needed' };
    throw error;
  }
  const [leaf, intermediate] = answer.chainPem.match(PEM_CERTIFICATE) ?? [];
  const problem = (why: string) => new TransportRefusedError('DEVICE_CERTIFICATE_INVALID', `the gateway's certificate for ${config.deviceId} is refused: ${why}`);
  if (!leaf || !intermediate) throw problem('the chain must hold the leaf and the issuing intermediate');
  const verified = await verifiedByTrustedRoot(config, leaf, intermediate, now).catch((error: Error) => {
    throw problem(error.message);
  });
  if (!verified.uris.includes(deviceUri(config.deviceId))) throw problem(`it does not name ${deviceUri(config.deviceId)}`);
  if (!heldCertificate(leaf, key)) throw problem(tpmHeld ? 'it is not for the TLS key this request made' : 'it is not for this device key');
  // The key first: a crash between the two writes leaves a pair that does not match, which the next round replaces.
  if (tpmHeld) await writeFileAtomic(tlsKeyPath(config.stateDir), key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
  await writeFileAtomic(path, answer.chainPem, { mode: 0o600 });
  return { action: held ? 'renewed' : 'issued', serialNumber: verified.serialNumber.toLowerCase(), notAfter: verified.notAfter.toISOString(), standing: answer.standing ?? standingOf(new X509Certificate(leaf)) };
}

/** The issued chain verified against the trusted roots (the first that takes it; else the first refusal). */
async function verifiedByTrustedRoot(config: Pick<DeviceConfig, 'stateDir' | 'trust'>, leafPem: string, intermediatePem: string, now: Date) {
  const trusted = await trustedFleetRoots(config);
  if (!trusted) throw notPinned(config);
  let refusal: unknown;
  for (const rootPem of trusted.roots) {
    try {
      return await verifyChain({ leafPem, intermediatePem, rootPem, purpose: 'clientAuth', now });
    } catch (error) {
      refusal ??= error;
    }
  }
  throw refusal;
}

/**
 * A TPM device's request: its AK registered and activated first (once), then a nonce, a quote over
 * it and a CSR for `tlsKey`, all in one envelope the TPM-held device key signs.
 */
async function requestWithTpm(config: Pick<DeviceConfig, 'deviceId' | 'stateDir'> & { tpm?: DeviceConfig['tpm'] }, client: GatewayClient, signer: HeldDeviceKey, tlsKey: DeviceKey) {
  if (!config.tpm) throw new Error('a TPM-held device key without tpm settings in the device configuration');
  const tpm = config.tpm;
  const nonce = () => client.certificateNonce(signer, config.deviceId);
  await ensureAttestationKeyRegistered({ deviceId: config.deviceId, stateDir: config.stateDir, tpm }, client, nonce);
  const challenge = await nonce();
  const quote = await quotePcrs(tpm, [tpm.pcr], quoteQualifyingData(challenge));
  const payload = { type: 'certificate-request', deviceId: config.deviceId, csrPem: await createDeviceCsr(tlsKey.privateKey, config.deviceId), sentAt: new Date().toISOString(), attestation: { nonce: challenge, quote } };
  return client.requestCertificateSigned(await signEnvelope(payload, signer));
}
