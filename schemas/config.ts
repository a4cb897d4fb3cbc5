// The operator/CI configuration contract. Every field is validated at start, so a wrong
// value fails with its field name before any workflow runs.
import { z } from 'zod';

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
  })
  .strict();

export const temporalConfigSchema = z
  .object({
    address: z.string().regex(/^[^:\s]+:\d{1,5}$/, 'must be host:port'),
    namespace: z.string().min(1),
    taskQueue: z.string().min(1),
  })
  .strict();

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
    fleet: fleetConfigSchema,
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type StoreConfig = z.infer<typeof storeConfigSchema>;
export type LocalStoreConfig = z.infer<typeof localStoreConfigSchema>;
export type S3StoreConfig = z.infer<typeof s3StoreConfigSchema>;
export type TemporalConfig = z.infer<typeof temporalConfigSchema>;
