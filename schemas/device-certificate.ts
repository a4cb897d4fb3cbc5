// The certificate request a device signs with its enrolled key (POST /v1/certificates, inside the
// signed envelope of device-envelope.ts) and the gateway's answer: a short-lived client certificate
// from the fleet CA for that same key. The same request renews a certificate that expired offline.
import { z } from 'zod';
import { quoteSchema } from './attestation-api.js';
import { deviceIdSchema, nonceSchema } from './device-api.js';
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
  /**
   * Fresh evidence (TPM devices): a quote over sha256(nonce), the nonce from POST
   * /v1/certificates/nonce. Under an attestation policy a normal certificate needs it, or a clean
   * quote within the policy's maxEvidenceAgeSeconds.
   */
  attestation: z.strictObject({ nonce: nonceSchema, quote: quoteSchema }).optional(),
});

/** POST /v1/certificates/nonce (signed by the enrolled key, no client certificate): a nonce for the evidence of a certificate request. */
export const certificateNonceRequestSchema = z.strictObject({
  type: z.literal('certificate-nonce'),
  deviceId: deviceIdSchema,
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
  /** `quarantine`: a marked certificate (docs/attestation.md) that allows only remediation; absent on gateways without attestation. */
  standing: z.enum(['normal', 'quarantine']).optional(),
  /** Why a quarantine certificate (the standing's code and reason). */
  quarantine: z.strictObject({ code: z.string().max(200), reason: z.string().max(2000) }).optional(),
});

export type CertificateRequest = z.infer<typeof certificateRequestSchema>;
export type CertificateResponse = z.infer<typeof certificateResponseSchema>;

/** The moment a certificate valid [notBefore, notAfter] is renewed: 2/3 of the way through. Pure. */
export function renewalTime(notBefore: Date, notAfter: Date): Date {
  return new Date(notBefore.getTime() + ((notAfter.getTime() - notBefore.getTime()) * 2) / 3);
}
