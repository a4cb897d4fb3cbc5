// Turns a POSTed signed envelope into a verified device message, or the precise 4xx:
// envelope shape (400), payload shape naming the field (400), unknown or revoked device (403),
// signature (401). Shape is checked before the signature only to give clear errors; nothing
// from an unverified payload is acted on.
import type { z } from 'zod';
import { envelopePayloadBytes, verifyEnvelope } from '../schemas/device-envelope.js';
import type { EnrolledDevice, FleetStore } from '../fleet/fleet-store.js';
import { describeZodIssues } from '../platform/zod-issues.js';
import { signedEnvelopeSchema, type SignedEnvelope } from '../schemas/device-api.js';
import { assertSameDevice } from './client-certificate.js';
import { notAdmittedError } from './admission-facts.js';
import { HttpError } from './http.js';
import { DeviceKeyCache } from './device-key-cache.js';

/** Parsed enrolled keys for every gateway in this process (safe to share: keyed by device id and PEM fingerprint). */
export const deviceKeys = new DeviceKeyCache();

export interface VerifiedMessage<T> {
  device: EnrolledDevice;
  message: T;
  envelope: SignedEnvelope;
}

/** What the request's client certificate proved (mTLS), as gateway/server.ts sets it on the route's options. */
export interface Certified {
  /** The certificate's device; a payload for another device is refused before any lookup. */
  certifiedDeviceId?: string;
  /** That device's row, read with the certificate's serial on this request: the key is not read again. */
  certifiedDevice?: EnrolledDevice;
}

export async function verifySignedRequest<S extends z.ZodType<{ deviceId: string }>>(
  fleet: FleetStore,
  body: unknown,
  schema: S,
  certified: Certified = {},
): Promise<VerifiedMessage<z.infer<S>>> {
  const envelope = signedEnvelopeSchema.safeParse(body);
  if (!envelope.success) throw new HttpError(400, 'invalid-envelope', describeZodIssues(envelope.error, { unknownKeys: 'per-key' }));

  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(envelopePayloadBytes(envelope.data)));
  } catch (error) {
    throw new HttpError(400, 'malformed-payload', `payload is not base64 of UTF-8 JSON: ${(error as Error).message}`);
  }
  const message = schema.safeParse(json);
  if (!message.success) {
    const issues = describeZodIssues(message.error, { unknownKeys: 'per-key' })
      .split('; ')
      .map((line) => `payload.${line}`)
      .join('; ');
    throw new HttpError(400, 'invalid-payload', issues);
  }

  assertSameDevice(certified.certifiedDeviceId, message.data.deviceId);
  const fromCertificate = certified.certifiedDevice?.id === message.data.deviceId ? certified.certifiedDevice : undefined;
  const device = fromCertificate ?? (await fleet.getDevice(message.data.deviceId));
  if (!device) throw await notAdmittedError(fleet, message.data.deviceId);
  if (device.revokedAt) throw new HttpError(403, 'device-revoked', `device ${device.id} was revoked on ${device.revokedAt.toISOString()}`);
  if (!verifyEnvelope(envelope.data, device, () => deviceKeys.keyFor(device.id, device.publicKeyPem))) {
    throw new HttpError(401, 'bad-signature', `signature does not verify with the ${device.keyAlgorithm} key enrolled for ${device.id}`);
  }
  return { device, message: message.data, envelope: envelope.data };
}

export function nonceError(reason: 'unknown' | 'used' | 'expired'): HttpError {
  const detail = {
    unknown: 'nonce was not issued to this device (GET /v1/nonce?device=ID first)',
    used: 'nonce was already used: fetch a fresh one (or use the nextNonce of the last check-in answer) for every signed request',
    expired: 'nonce expired: fetch a fresh one and sign again',
  }[reason];
  return new HttpError(409, `nonce-${reason}`, detail);
}
