// The certificate request a device signs with its enrolled key (POST /v1/certificates, inside the
// signed envelope of device-envelope.ts) and the gateway's answer: a short-lived client certificate
// from the fleet CA for that same key. The same request renews a certificate that expired offline.
import { z } from 'zod';
import { deviceIdSchema } from './device-api.js';
import { timestampSchema } from './manifest.js';

/** A CSR PEM is a few hundred bytes; this bounds it before it is parsed. */
export const MAX_CSR_PEM_BYTES = 8 * 1024;

export const certificateRequestSchema = z.strictObject({
  type: z.literal('certificate-request'),
  deviceId: deviceIdSchema,
  /** PKCS#10 for the device's enrolled key. */
  csrPem: z.string().min(1).max(MAX_CSR_PEM_BYTES).regex(/^-----BEGIN CERTIFICATE REQUEST-----/, 'must be a PEM certificate request'),
  /** Must be within the gateway's freshness window and later than the device's previous request. */
  sentAt: timestampSchema,
});

export const certificateResponseSchema = z.strictObject({
  deviceId: deviceIdSchema,
  /** The leaf. */
  certificatePem: z.string().min(1).max(16 * 1024),
  /** Leaf then issuing intermediate: what the device presents in its TLS handshakes. */
  chainPem: z.string().min(1).max(32 * 1024),
  serialNumber: z.string().regex(/^[0-9a-f]{1,64}$/),
  notBefore: timestampSchema,
  notAfter: timestampSchema,
  /** When the gateway suggests renewing (2/3 of the lifetime); devices compute it themselves too. */
  renewAfter: timestampSchema,
});

export type CertificateRequest = z.infer<typeof certificateRequestSchema>;
export type CertificateResponse = z.infer<typeof certificateResponseSchema>;

/** The moment a certificate valid [notBefore, notAfter] is renewed: 2/3 of the way through. Pure. */
export function renewalTime(notBefore: Date, notAfter: Date): Date {
  return new Date(notBefore.getTime() + ((notAfter.getTime() - notBefore.getTime()) * 2) / 3);
}
