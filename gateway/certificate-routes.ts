// POST /v1/certificates: an admitted device sends a CSR for its own enrolled key, signed (the
// envelope) by that key, and gets a short-lived client certificate from the fleet CA's issuing
// intermediate. No client certificate is needed, so a device whose certificate expired offline
// renews here with its enrolled key alone. Refusals have their own codes and change nothing.
import { createPublicKey, X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EnrolledDevice, FleetStore } from '../fleet/fleet-store.js';
import { csrPublicKeyDer } from '../identity/csr.js';
import { IdentityError } from '../identity/errors.js';
import type { FleetCa } from '../identity/fleet-ca.js';
import { DEFAULT_DEVICE_HOURS, issueDeviceCertificate } from '../identity/issue.js';
import { certificateRequestSchema, renewalTime, type CertificateResponse } from '../schemas/device-certificate.js';
import { HttpError, readJsonBody, sendJson } from './http.js';
import { verifySignedRequest } from './signed-request.js';

export interface DeviceIdentityOptions {
  /** The fleet CA: its intermediate issues, its root is what client certificates must chain to. */
  ca: FleetCa;
  /** Lifetime of an issued device certificate (default 24 h). */
  certificateHours?: number;
  /** How far a request's sentAt may be from the gateway's clock (default 300 s). */
  requestWindowSeconds?: number;
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

function sameKey(device: EnrolledDevice, csrPem: string): boolean {
  let requested: Buffer;
  try {
    requested = csrPublicKeyDer(csrPem);
  } catch (error) {
    throw new HttpError(400, 'invalid-csr', `the CSR does not parse: ${(error as Error).message}`);
  }
  return createPublicKey(device.publicKeyPem).export({ format: 'der', type: 'spki' }).equals(requested);
}

export async function issueCertificate(fleet: FleetStore, identity: DeviceIdentityOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { device, message } = await verifySignedRequest(fleet, await readJsonBody(req), certificateRequestSchema);
  const refusal = admissionRefusal(device);
  if (refusal) throw new HttpError(403, 'device-not-admitted', refusal);
  const sentAt = new Date(message.sentAt);
  const windowMs = (identity.requestWindowSeconds ?? 300) * 1000;
  if (Math.abs(Date.now() - sentAt.getTime()) > windowMs) {
    throw new HttpError(409, 'stale-request', `the request was signed at ${message.sentAt}, more than ${windowMs / 1000} s from the gateway's clock: sign a new one`);
  }
  if (!sameKey(device, message.csrPem)) throw new HttpError(400, 'csr-key-mismatch', `the CSR is not for the key enrolled for ${device.id}: a certificate is only issued for the enrolled key`);
  let issued;
  try {
    issued = await issueDeviceCertificate(identity.ca, { deviceId: device.id, csrPem: message.csrPem, validityHours: identity.certificateHours ?? DEFAULT_DEVICE_HOURS });
  } catch (error) {
    if (error instanceof IdentityError) throw new HttpError(400, 'invalid-csr', error.message);
    throw error;
  }
  const notBefore = new Date(new X509Certificate(issued.certPem).validFrom);
  const recorded = await fleet.recordCertificate({ serial: issued.serialNumber, deviceId: device.id, notBefore, notAfter: issued.notAfter, requestedAt: sentAt });
  if (recorded === 'stale') throw new HttpError(409, 'replayed-request', `a certificate request of ${device.id} signed at or after ${message.sentAt} was already answered: sign a new one`);
  const body: CertificateResponse = {
    deviceId: device.id,
    certificatePem: issued.certPem,
    chainPem: issued.chainPem,
    serialNumber: issued.serialNumber,
    notBefore: notBefore.toISOString(),
    notAfter: issued.notAfter.toISOString(),
    renewAfter: renewalTime(notBefore, issued.notAfter).toISOString(),
  };
  sendJson(res, 201, body);
}
