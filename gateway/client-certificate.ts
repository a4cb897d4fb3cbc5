// The mutual-TLS check of every device API request except enrollment, certificate issuance and
// /healthz: the TLS layer asks for a client certificate but lets the handshake finish without one
// (rejectUnauthorized false), so a refusal here is a JSON error with its own code, not a TLS alert.
// The chain to the fleet root is OpenSSL's verdict (socket.authorized); purpose, the device id in the
// URI SAN, and revocation of the serial or the device are ours, read from the fleet store per request
// (`ota fleet revoke` holds on the next request, no restart).
import type { IncomingMessage } from 'node:http';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import type { EnrolledDevice, FleetStore } from '../fleet/fleet-store.js';
import { hasQuarantineMark } from '../identity/issue.js';
import { HttpError } from './http.js';

/** The device a request's client certificate proves, and the certificate's serial. */
export interface CertifiedDevice {
  deviceId: string;
  serial: string;
  /** A quarantine certificate (identity/issue.ts QUARANTINE_URI): only remediation is open to it (quarantine-gate.ts). */
  quarantine: boolean;
  /** The device's row, read with the serial's status: signed requests verify against it without reading it again. */
  device: EnrolledDevice;
}

const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';
const DEVICE_URI = /(?:^|,\s*)URI:urn:edge-ota:device:([A-Za-z0-9][A-Za-z0-9._:-]{0,127})(?=,|$)/;

const refuse = (code: string, detail: string) => new HttpError(401, code, detail);

/** The device id in a certificate's subjectAltName string ("URI:urn:edge-ota:device:<id>"), if one. Pure. */
export function deviceIdFromSubjectAltName(subjectAltName: string | undefined): string | undefined {
  const matches = (subjectAltName ?? '').split(/,\s*/).filter((name) => name.startsWith('URI:urn:edge-ota:device:'));
  if (matches.length !== 1) return undefined; // none, or an ambiguous certificate naming two devices
  return DEVICE_URI.exec(matches[0]!)?.[1];
}

/** Why OpenSSL did not accept the chain, as our code. */
function chainRefusal(authorizationError: Error | string | null | undefined): HttpError {
  const code = String((authorizationError as { code?: string } | null)?.code ?? authorizationError ?? 'unknown');
  if (code === 'CERT_HAS_EXPIRED') return refuse('client-certificate-expired', 'the client certificate has expired: renew it with POST /v1/certificates, signed by the enrolled key');
  if (code === 'CERT_NOT_YET_VALID') return refuse('client-certificate-not-yet-valid', 'the client certificate is not valid yet (device clock?)');
  return refuse('client-certificate-untrusted', `the client certificate is not issued by this fleet's CA (${code})`);
}

/**
 * The peer certificate of a TLS connection and its notAfter, parsed once per connection (TLS 1.3
 * here: no renegotiation, so it cannot change); revocation and expiry are still checked per request.
 */
const peerCertificates = new WeakMap<TLSSocket, { peer: DetailedPeerCertificate; notAfterMs: number }>();
function peerCertificateOf(socket: TLSSocket): { peer: DetailedPeerCertificate; notAfterMs: number } | undefined {
  if (typeof socket.getPeerCertificate !== 'function') return undefined;
  let known = peerCertificates.get(socket);
  if (!known) {
    const peer = socket.getPeerCertificate() as DetailedPeerCertificate;
    if (!peer?.raw) return undefined;
    known = { peer, notAfterMs: Date.parse(peer.valid_to) };
    peerCertificates.set(socket, known);
  }
  return known;
}

export async function requireClientCertificate(req: IncomingMessage, fleet: FleetStore): Promise<CertifiedDevice> {
  const socket = req.socket as TLSSocket;
  const known = peerCertificateOf(socket);
  if (!known) throw refuse('client-certificate-required', 'this endpoint needs the device client certificate (mutual TLS); get one with POST /v1/certificates');
  if (!socket.authorized) throw chainRefusal(socket.authorizationError);
  // A resumed session carries the verdict of its first handshake: a certificate that has expired
  // since then (sessions outlive the poll interval) must not ride on it, nor a connection held open.
  if (!(Date.now() <= known.notAfterMs)) throw chainRefusal(Object.assign(new Error('expired'), { code: 'CERT_HAS_EXPIRED' }));
  const { peer } = known;
  if (!(peer.ext_key_usage ?? []).includes(CLIENT_AUTH_OID)) throw refuse('client-certificate-wrong-purpose', 'the certificate is not a client certificate (extended key usage clientAuth)');
  const deviceId = deviceIdFromSubjectAltName(peer.subjectaltname);
  if (!deviceId) throw refuse('client-certificate-no-device', 'the client certificate names no single device (URI SAN urn:edge-ota:device:<id>)');
  const status = await fleet.serialStatus(peer.serialNumber);
  if (status.kind === 'unknown') throw refuse('certificate-unknown', `certificate ${peer.serialNumber.toLowerCase()} was not issued by this gateway's fleet store`);
  if (status.device.id !== deviceId) throw new HttpError(403, 'certificate-device-mismatch', `certificate ${peer.serialNumber.toLowerCase()} was issued to ${status.device.id}, not ${deviceId}`);
  if (status.device.revokedAt) throw new HttpError(403, 'device-revoked', `device ${deviceId} was revoked on ${status.device.revokedAt.toISOString()}`);
  if (status.certificateRevokedAt) throw new HttpError(403, 'certificate-revoked', `certificate ${peer.serialNumber.toLowerCase()} was revoked on ${status.certificateRevokedAt.toISOString()}`);
  return { deviceId, serial: peer.serialNumber.toLowerCase(), quarantine: hasQuarantineMark(peer.subjectaltname), device: status.device };
}

/** A signed request's device must be the certificate's device: one device's certificate cannot carry another's envelope. */
export function assertSameDevice(certified: string | undefined, claimed: string): void {
  if (certified !== undefined && certified !== claimed) {
    throw new HttpError(403, 'certificate-device-mismatch', `the client certificate is for device ${certified}; this request is for ${claimed}`);
  }
}
