// The operator/CI configuration contract. Every field is validated at start, so a wrong
// value fails with its field name before any workflow runs.
import { z } from 'zod';
import { driftKindSchema } from './device-api.js';

export const localStoreConfigSchema = z
  .object({
    kind: z.literal('local'),
    /** Directory holding the content-addressed blobs and named objects. */
    dir: z.string().min(1),
  })
  .strict();

export const s3StoreConfigSchema = z
  .object({
    kind: z.literal('s3'),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name'),
    /** Custom endpoint for S3-compatible servers (versitygw, MinIO, Ceph); omit for AWS. */
    endpoint: z.url().optional(),
    region: z.string().min(1).default('us-east-1'),
    /** Path-style addressing (http://host/bucket/key); needed by most S3-compatible servers. */
    forcePathStyle: z.boolean().default(false),
    /** Key prefix inside the bucket, e.g. "ota/". */
    prefix: z.string().default(''),
    /** Attempts per request before giving up (the SDK's retry with backoff). */
    maxAttempts: z.number().int().min(1).max(10).default(3),
    /** TCP connect timeout per attempt, so an unreachable endpoint fails fast (default 3000). */
    connectTimeoutMs: z.number().int().min(1).max(600_000).optional(),
    /** Socket idle timeout: a server that stops answering fails the attempt instead of hanging (default 60000). */
    idleTimeoutMs: z.number().int().min(1).max(3_600_000).optional(),
    /** Multipart part size; upload memory is about 4 parts (default 8 MiB, S3 minimum 5). */
    partSizeMiB: z.number().int().min(5).max(5120).optional(),
    /** Static keys (the `ota dev up` stack's versitygw); default: the usual AWS chain (AWS_ACCESS_KEY_ID, ...). */
    credentials: z.object({ accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1) }).strict().optional(),
  })
  .strict();

export const storeConfigSchema = z.discriminatedUnion('kind', [localStoreConfigSchema, s3StoreConfigSchema]);

export const signingConfigSchema = z
  .object({
    /** key: an ECDSA P-256 key on disk (air-gapped sites); keyless: Fulcio + Rekor with an OIDC token. */
    mode: z.enum(['key', 'keyless']).default('key'),
    /** Private key (PEM, PKCS#8) used in key mode; generated on first use when missing. */
    keyPath: z.string().min(1),
    fulcioURL: z.url().default('https://fulcio.sigstore.dev'),
    rekorURL: z.url().default('https://rekor.sigstore.dev'),
    tsaURL: z.url().optional(),
    /** Environment variable holding the OIDC identity token (as CI systems provide it). */
    identityTokenEnv: z.string().default('SIGSTORE_ID_TOKEN'),
  })
  .strict();

export const trustConfigSchema = z
  .object({
    /** Sigstore trusted_root.json that verifiers pin (keys, CAs, logs). */
    trustedRootPath: z.string().min(1),
    /** The TUF repository's key files (root, targets, online), docs/trust.md; default: keys/tuf/ beside the release key. */
    keysDir: z.string().min(1).optional(),
    /**
     * Freshness (docs/trust.md): a Temporal Schedule re-signs snapshot and timestamp with the online key every
     * `refreshEveryMinutes`, each valid `expiryHours`; a device whose newest timestamp expired is frozen.
     */
    freshness: z
      .object({
        refreshEveryMinutes: z.number().min(1 / 60).max(7 * 24 * 60).default(60),
        expiryHours: z.number().min(1 / 3600).max(30 * 24).default(24),
      })
      .strict()
      .refine((f) => f.refreshEveryMinutes / 60 < f.expiryHours, 'refreshEveryMinutes must be shorter than expiryHours, or devices freeze between refreshes')
      .optional(),
  })
  .strict();

/**
 * Who may hand images to the release pipeline. The worker signs an image only together with the
 * builder's Sigstore bundle over it and the builder's signed SLSA provenance, both verified
 * against this policy. key: a builder public key (PEM); keyless: a CI identity (OIDC issuer +
 * subject pattern) verified against the trusted root.
 */
export const builderConfigSchema = z
  .object({
    mode: z.enum(['key', 'keyless']).default('key'),
    /**
     * Key mode: the builder's private key (PEM, PKCS#8), used by `ota release publish` to sign in the
     * build job; generated on first use when missing (the embedded/demo default). Never the release key.
     */
    keyPath: z.string().min(1),
    /** Key mode: the builder public key the worker accepts; default: the .pub beside keyPath. */
    publicKeyPath: z.string().min(1).optional(),
    /** Keyless: the exact OIDC issuer of the builder's certificate, e.g. https://token.actions.githubusercontent.com. */
    issuer: z.url().optional(),
    /** Keyless: a regular expression the whole certificate subject (SAN) must match, e.g. a CI workflow identity. */
    subjectPattern: z
      .string()
      .min(1)
      .refine((p) => isRegExp(p), 'must be a valid regular expression')
      .optional(),
    /** Keyless: the trusted root holding the Fulcio CA, CT and Rekor logs; default: trust.trustedRootPath. */
    trustedRootPath: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.mode !== 'keyless') return;
    if (!b.issuer) ctx.addIssue({ code: 'custom', path: ['issuer'], message: 'builder.mode keyless needs the OIDC issuer of the CI identity' });
    if (!b.subjectPattern) ctx.addIssue({ code: 'custom', path: ['subjectPattern'], message: 'builder.mode keyless needs a subject pattern for the CI identity' });
  });

function isRegExp(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

/**
 * TLS to the Temporal frontend. Present (even empty) means TLS on; an empty section trusts the
 * system roots (Temporal Cloud). Client certificate and key together make it mutual TLS.
 */
export const temporalTlsConfigSchema = z
  .object({
    /** PEM bundle of the CA that signed the frontend's certificate; default: the system roots. */
    serverCaPath: z.string().min(1).optional(),
    /** mTLS: this client's certificate (PEM, leaf first, intermediates after) and its private key. */
    clientCertPath: z.string().min(1).optional(),
    clientKeyPath: z.string().min(1).optional(),
    /** The name checked in the server certificate (and sent as SNI) when it is not the address's host. */
    serverName: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (!t.clientCertPath !== !t.clientKeyPath) {
      ctx.addIssue({ code: 'custom', path: [t.clientCertPath ? 'clientKeyPath' : 'clientCertPath'], message: 'mutual TLS needs both clientCertPath and clientKeyPath' });
    }
  });

export const temporalConfigSchema = z
  .object({
    address: z.string().regex(/^[^:\s]+:\d{1,5}$/, 'must be host:port'),
    namespace: z.string().min(1),
    taskQueue: z.string().min(1),
    tls: temporalTlsConfigSchema.optional(),
    /** Bearer API key (Temporal Cloud); turns TLS on. Prefer OTA_TEMPORAL_API_KEY over a file; `ota config show` hides it. */
    apiKey: z.string().min(1).optional(),
  })
  .strict();

export const identityConfigSchema = z
  .object({
    /** The fleet CA's folder (0700): root and issuing intermediate; created on first use when missing. */
    caDir: z.string().min(1),
  })
  .strict();

export const gatewayConfigSchema = z
  .object({
    /** The gateway answer key (ECDSA P-256, 0600 in a 0700 folder) that signs every check-in answer; created on first use. */
    answerKeyPath: z.string().min(1),
    /** Lab only: admit any device holding the fleet-wide OTA_ENROLLMENT_TOKEN (same as `--insecure-shared-token`). */
    insecureSharedToken: z.boolean().default(false),
    /**
     * Idle device connections are kept this long for the device's next request (a held connection
     * skips the TLS handshake); each costs gateway memory (docs/fleet-ca.md). Absent: 120 s.
     */
    keepAliveTimeoutSeconds: z.int().min(1).max(3600).optional(),
    /**
     * Lifetime of the nextNonce a check-in answer carries for the device's next check-in; must be
     * above the poll interval (checked at start). Absent: the poll interval + 600 s.
     */
    nextNonceTtlSeconds: z.int().min(2).max(86_400).optional(),
    /**
     * How long a device's TLS session can be resumed (skipping the full handshake); must outlive the
     * poll interval. Absent: the poll interval + 600 s.
     */
    tlsSessionSeconds: z.int().min(1).max(86_400).optional(),
    /** Attestation policy (docs/attestation.md); absent: quotes are verified and recorded, nothing is quarantined. */
    attestation: z
      .object({
        maxEvidenceAgeSeconds: z.int().min(60).max(30 * 86_400).default(86_400),
        requireTpm: z.boolean().default(false),
        graceSeconds: z.int().min(0).max(7 * 86_400).default(600),
        remediation: z.union([z.literal('last-good'), z.object({ version: z.string().min(1) }).strict()]).default('last-good'),
        /** Refuse attestation keys whose EK has no certificate from a TPM vendor CA (ota fleet tpm-ca); false: accept them as 'unverified'. */
        requireEkCertificate: z.boolean().default(false),
      })
      .strict()
      .optional(),
    /**
     * Posture drift (docs/attestation.md): heartbeats' drift is always recorded; these kinds also
     * quarantine the device (code DRIFT:<kind>), enforced with the attestation policy, so
     * quarantineOn needs gateway.attestation.
     */
    drift: z
      .object({
        quarantineOn: z.array(driftKindSchema).max(16).default([]),
        remediation: z.union([z.literal('last-good'), z.literal('none'), z.object({ version: z.string().min(1) }).strict()]).default('last-good'),
      })
      .strict()
      .optional(),
    /** Deltas on demand for devices older than the last K releases (docs/deltas.md, "On demand"); absent: off. */
    onDemandDeltas: z
      .object({
        enabled: z.boolean().default(true),
        /** While the delta is generated: the full image now, or `none` with a short poll interval. */
        whileGenerating: z.enum(['full', 'retry-later']).default('full'),
        retryAfterSeconds: z.int().min(1).max(86_400).default(60),
        /** How often the worker's dispatch schedule starts workflows for new requests. */
        dispatchEverySeconds: z.int().min(1).max(3600).default(30),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((g, ctx) => {
    if (g.drift?.quarantineOn.length && !g.attestation) {
      ctx.addIssue({ code: 'custom', path: ['drift', 'quarantineOn'], message: 'quarantine is enforced at check-in by the attestation policy: set gateway.attestation too (e.g. {})' });
    }
  });

export const fleetConfigSchema = z
  .object({
    /** postgres://... for PostgreSQL, or pglite:DIR for the embedded database. */
    databaseUrl: z.string().regex(/^(postgres(ql)?:\/\/|pglite:)/, 'must start with postgres://, postgresql:// or pglite:'),
  })
  .strict();

export const configSchema = z
  .object({
    temporal: temporalConfigSchema,
    store: storeConfigSchema,
    signing: signingConfigSchema,
    trust: trustConfigSchema,
    builder: builderConfigSchema,
    fleet: fleetConfigSchema,
    identity: identityConfigSchema,
    gateway: gatewayConfigSchema,
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type StoreConfig = z.infer<typeof storeConfigSchema>;
export type LocalStoreConfig = z.infer<typeof localStoreConfigSchema>;
export type S3StoreConfig = z.infer<typeof s3StoreConfigSchema>;
export type BuilderConfig = z.infer<typeof builderConfigSchema>;
export type TemporalConfig = z.infer<typeof temporalConfigSchema>;
export type TemporalTlsConfig = z.infer<typeof temporalTlsConfigSchema>;
