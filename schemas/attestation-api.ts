// The attestation part of the device API (docs/attestation.md): a TPM device registers its
// attestation key once, then answers each challenge (a nonce from GET /v1/nonce) with a quote
// signed by that key, inside its usual signed envelope. Sizes are bounded before anything is parsed.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { deviceIdSchema, nonceSchema, publicKeyPemSchema } from './device-api.js';
import { semverSchema, timestampSchema } from './manifest.js';

const base64 = (max: number) => z.string().max(max).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
const hex = (min: number, max: number) => z.string().min(min).max(max).regex(/^[0-9a-f]*$/, 'must be lowercase hex');

/** POST /v1/attestation/key (signed by the device key): the AK's public half and the EK it was made under. */
export const attestationKeyRequestSchema = z.strictObject({
  type: z.literal('attestation-key'),
  deviceId: deviceIdSchema,
  ak: z.strictObject({ pem: publicKeyPemSchema, qualifiedName: hex(68, 68) }),
  /** The AK's TPM2B_PUBLIC (base64): the gateway computes its name from it for the credential. */
  akPublic: base64(700),
  ekPem: publicKeyPemSchema,
  /** The manufacturer's EK certificate from the TPM's NV index (DER, base64; at most 4 KiB). */
  ekCertificate: base64(5464).optional(),
  nonce: nonceSchema,
  sentAt: timestampSchema,
});

export const quoteSchema = z.strictObject({
  /** TPMS_ATTEST (~150 bytes for one PCR; at most 1 KiB). */
  message: base64(1400),
  signature: base64(200),
  pcrs: z.record(z.string().regex(/^([0-9]|1[0-9]|2[0-3])$/, 'must be a PCR number 0-23'), hex(64, 64)).refine((r) => Object.keys(r).length <= 24, 'at most 24 PCRs'),
});

/** POST /v1/attestation/quote (signed): a quote whose qualifying data is sha256(nonce). */
export const attestationQuoteRequestSchema = z.strictObject({
  type: z.literal('attestation-quote'),
  deviceId: deviceIdSchema,
  quote: quoteSchema,
  nonce: nonceSchema,
  sentAt: timestampSchema,
});

export const attestationKeyResponseSchema = z.strictObject({
  deviceId: deviceIdSchema,
  created: z.boolean(),
  registeredAt: timestampSchema,
  /** `pending-activation`: the AK counts only after the device answers `credential` (POST /v1/attestation/activate). */
  status: z.enum(['active', 'pending-activation']),
  /** TPM2_MakeCredential for the AK's name against the EK, in tpm2-tools' file format, base64. */
  credential: base64(1400).optional(),
  /** What the gateway made of the EK: certified by a TPM vendor CA, or accepted unverified (with why). */
  ek: z.strictObject({ trust: z.enum(['vendor-ca', 'unverified']), caFingerprint: hex(64, 64).optional(), warning: z.string().max(500).optional() }).optional(),
});

/** POST /v1/attestation/activate (signed): the secret TPM2_ActivateCredential unwrapped from the credential. */
export const attestationActivateRequestSchema = z.strictObject({
  type: z.literal('attestation-activate'),
  deviceId: deviceIdSchema,
  secret: hex(64, 64),
  nonce: nonceSchema,
  sentAt: timestampSchema,
});

export const attestationActivateResponseSchema = z.strictObject({ deviceId: deviceIdSchema, status: z.literal('active') });

export const attestationQuoteResponseSchema = z.strictObject({
  status: z.enum(['attested', 'refused']),
  /** The refusal's code (PCR_UNEXPECTED, QUOTE_NONCE_MISMATCH, ...). */
  code: z.string().optional(),
  detail: z.string().optional(),
  /** The release whose measurement the quote matched. */
  release: semverSchema.optional(),
  /** The device's standing after this quote (attested, quarantine, ...). */
  standing: z.string(),
});

export type AttestationKeyRequest = z.infer<typeof attestationKeyRequestSchema>;
export type AttestationQuoteRequest = z.infer<typeof attestationQuoteRequestSchema>;
export type AttestationKeyResponse = z.infer<typeof attestationKeyResponseSchema>;
export type AttestationActivateResponse = z.infer<typeof attestationActivateResponseSchema>;
export type AttestationQuoteResponse = z.infer<typeof attestationQuoteResponseSchema>;

/** The quote's qualifying data for a gateway nonce: its sha256 (32 bytes, what tpm2_quote -q takes). */
export function quoteQualifyingData(nonce: string): string {
  return createHash('sha256').update(nonce, 'utf8').digest('hex');
}
