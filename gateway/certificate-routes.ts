// POST /v1/certificates: an admitted device sends a CSR, signed (the envelope) by its enrolled key,
// and gets a short-lived client certificate from the fleet CA's issuing intermediate. No client
// certificate is needed, so a device whose certificate expired offline renews here with its
// enrolled key alone. Refusals have their own codes and change nothing.
// Under an attestation policy (docs/attestation.md) the certificate follows the device's standing:
// fresh evidence (a quote over a nonce from POST /v1/certificates/nonce, sent with the CSR, or a
// clean quote within maxEvidenceAgeSeconds) gets a normal certificate; anything else a marked,
// short-lived quarantine certificate. A TPM device's CSR is for a software TLS key made for this
// certificate: the TPM-held device key signs the envelope that carries it (Node's TLS cannot use a
// key inside the TPM), so the CA binds that TLS key to the TPM identity for one certificate's life.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { certificateGrant } from '../attestation/certificate-grant.js';
import type { AttestationPolicy } from '../attestation/standing.js';
import type { EnrolledDevice, FleetStore } from '../fleet/fleet-store.js';
import { IdentityError } from '../identity/errors.js';
import type { FleetCa } from '../identity/fleet-ca.js';
import { DEFAULT_DEVICE_HOURS, issueDeviceCertificate, verifyDeviceCsr, type VerifiedCsr } from '../identity/issue.js';
import { certificateNonceRequestSchema, certificateRequestSchema, renewalTime, type CertificateResponse } from '../schemas/device-certificate.js';
import type { NonceResponse } from '../schemas/device-api.js';
import type { ArtifactStore } from '../stores/artifact-store.js';
import { deviceStanding, enforceStanding } from './attestation-gate.js';
import { verifyAndRecordQuote } from './attestation-routes.js';
import { HttpError, readJsonBody, sendJson } from './http.js';
import { deviceKeys, nonceError, verifySignedRequest } from './signed-request.js';

export interface DeviceIdentityOptions {
  /** The fleet CA: its intermediate issues, its root is what client certificates must chain to. */
  ca: FleetCa;
  /** Lifetime of an issued device certificate (default 24 h). */
  certificateHours?: number;
  /** How far a request's sentAt may be from the gateway's clock (default 300 s). */
  requestWindowSeconds?: number;
}

/** What issuance needs besides the CA: the stores, the attestation policy, and the per-device limit. */
export interface CertificateContext {
  fleet: FleetStore;
  store: ArtifactStore;
  attestation?: AttestationPolicy;
  nonceTtlSeconds: number;
  /** Throws 429 when this (verified) device asked too often; called after the signature is checked, so nobody spends another device's budget. */
  limitDevice?: (deviceId: string) => void;
}

/**
 * The one place that says whether a device may hold a certificate. Today: enrolled and not revoked
 * (verifySignedRequest already refused unknown and revoked devices); a pending admission state slots in here.
 */
export function admissionRefusal(device: EnrolledDevice & { admission?: string }): string | undefined {
  if (device.revokedAt) return `device ${device.id} was revoked`;
  if (device.admission !== undefined && device.admission !== 'accepted') return `device ${device.id} is ${device.admission}, not admitted yet`;
  return undefined;
}

/** The enrolled key is parsed once per device (the shared key cache); its SPKI DER is compared with the CSR's. */
function requestedKeyIsEnrolled(device: EnrolledDevice, csr: VerifiedCsr): boolean {
  return deviceKeys.keyFor(device.id, device.publicKeyPem).export({ format: 'der', type: 'spki' }).equals(csr.publicKeyDer);
}

/** The CSR parsed and its signature checked once, for the key binding and for issuing. */
async function verifiedCsr(csrPem: string): Promise<VerifiedCsr> {
  try {
    return await verifyDeviceCsr(csrPem);
  } catch (error) {
    if (error instanceof IdentityError) throw new HttpError(400, 'invalid-csr', error.message);
    throw error;
  }
}

function checkFresh(identity: DeviceIdentityOptions, sentAtIso: string): Date {
  const sentAt = new Date(sentAtIso);
  const windowMs = (identity.requestWindowSeconds ?? 300) * 1000;
  if (Math.abs(Date.now() - sentAt.getTime()) > windowMs) {
    throw new HttpError(409, 'stale-request', `the request was signed at ${sentAtIso}, more than ${windowMs / 1000} s from the gateway's clock: sign a new one`);
  }
  return sentAt;
}

/**
 * A CSR for another key than the enrolled one is a TLS session key: allowed only to a device whose
 * enrolled key is TPM-held, which the gateway knows from its activated attestation key.
 */
async function assertKeyBinding(fleet: FleetStore, device: EnrolledDevice, csr: VerifiedCsr): Promise<void> {
  if (requestedKeyIsEnrolled(device, csr)) return;
  const ak = await fleet.getAttestationKey(device.id);
  if (ak && ak.status === 'active') return;
  const why = ak ? 'its attestation key is not activated yet (POST /v1/attestation/activate)' : 'it has no TPM attestation key';
  throw new HttpError(400, 'csr-key-mismatch', `the CSR is not for the key enrolled for ${device.id}, and ${why}: a software device is only certified for its enrolled key`);
}

/** POST /v1/certificates/nonce: a nonce for a certificate request's quote, to a device proving its enrolled key (no client certificate yet). */
export async function issueCertificateNonce(ctx: CertificateContext, identity: DeviceIdentityOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { device, message } = await verifySignedRequest(ctx.fleet, await readJsonBody(req), certificateNonceRequestSchema);
  ctx.limitDevice?.(device.id);
  const refusal = admissionRefusal(device);
  if (refusal) throw new HttpError(403, 'device-not-admitted', refusal);
  checkFresh(identity, message.sentAt);
  const { nonce, expiresAt } = await ctx.fleet.issueNonce(device.id, ctx.nonceTtlSeconds);
  sendJson(res, 200, { nonce, expiresAt: expiresAt.toISOString() } satisfies NonceResponse);
}

export async function issueCertificate(ctx: CertificateContext, identity: DeviceIdentityOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { fleet } = ctx;
  const { device, message } = await verifySignedRequest(fleet, await readJsonBody(req), certificateRequestSchema);
  ctx.limitDevice?.(device.id);
  const refusal = admissionRefusal(device);
  if (refusal) throw new HttpError(403, 'device-not-admitted', refusal);
  const sentAt = checkFresh(identity, message.sentAt);
  const csr = await verifiedCsr(message.csrPem);
  await assertKeyBinding(fleet, device, csr);
  const normalHours = identity.certificateHours ?? DEFAULT_DEVICE_HOURS;
  let grant = certificateGrant(undefined, undefined, normalHours);
  if (message.attestation) {
    // The evidence is judged and recorded like any quote (and may open a quarantine) before the grant.
    const spent = await fleet.consumeNonce(device.id, message.attestation.nonce);
    if (spent !== 'ok') throw nonceError(spent);
    await verifyAndRecordQuote(ctx, device, message.attestation.quote, message.attestation.nonce);
  }
  if (ctx.attestation) {
    const open = await enforceStanding(fleet, ctx.attestation, device);
    grant = certificateGrant(ctx.attestation, await deviceStanding(fleet, ctx.attestation, device), normalHours, open);
  }
  let issued;
  try {
    issued = await issueDeviceCertificate(identity.ca, { deviceId: device.id, csr, validityHours: grant.hours, quarantine: grant.kind === 'quarantine' });
  } catch (error) {
    if (error instanceof IdentityError) throw new HttpError(400, 'invalid-csr', error.message);
    throw error;
  }
  const recorded = await fleet.recordCertificate({ serial: issued.serialNumber, deviceId: device.id, notBefore: issued.notBefore, notAfter: issued.notAfter, requestedAt: sentAt });
  if (recorded === 'stale') throw new HttpError(409, 'replayed-request', `a certificate request of ${device.id} signed at or after ${message.sentAt} was already answered: sign a new one`);
  const body: CertificateResponse = {
    deviceId: device.id,
    certificatePem: issued.certPem,
    chainPem: issued.chainPem,
    serialNumber: issued.serialNumber,
    notBefore: issued.notBefore.toISOString(),
    notAfter: issued.notAfter.toISOString(),
    renewAfter: renewalTime(issued.notBefore, issued.notAfter).toISOString(),
    ...(ctx.attestation ? { standing: grant.kind } : {}),
    ...(grant.kind === 'quarantine' ? { quarantine: { code: grant.code, reason: grant.reason.slice(0, 2000) } } : {}),
  };
  sendJson(res, 201, body);
}
