// The device API contract: what devices and the gateway exchange (enrollment, nonces, check-in,
// health reports) and the signed envelope every device-originated message travels in.
//
// Device messages are signed over canonical JSON bytes (schemas/manifest.ts canonicalJsonBytes), so
// the gateway verifies exactly the bytes the device signed, then parses them. Objects are strict:
// an unknown field is an error rather than something silently outside the signature's meaning.
import { z } from 'zod';
import { failureKindSchema } from './failure-kinds.js';
import { channelSchema, deltaFormatSchema, hardwareIdSchema, semverSchema, sha256HexSchema, timestampSchema } from './manifest.js';

export { failureKindSchema, type FailureKind } from './failure-kinds.js';

export const DEVICE_API_VERSION = 1;

// ---------------------------------------------------------------------------------------------
// Field formats
// ---------------------------------------------------------------------------------------------

export const deviceIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'must be a device id: A-Z a-z 0-9 . _ : -, 1-128 chars, starting alphanumeric');

export const slotNameSchema = z.enum(['A', 'B']);

/** Labels select devices for rollouts (region, store, ...): flat string pairs. */
export const labelsSchema = z
  .record(z.string().regex(/^[a-z][a-z0-9._/-]{0,62}$/, 'label names are lowercase: a-z 0-9 . _ / -, 1-63 chars'), z.string().max(256))
  .refine((labels) => Object.keys(labels).length <= 64, 'at most 64 labels');

/** ed25519: raw 64-byte signatures. ecdsa-p256-sha256: DER (X9.62) signatures, as OpenSSL and mbedTLS emit them. */
export const keyAlgorithmSchema = z.enum(['ed25519', 'ecdsa-p256-sha256']);

/** SubjectPublicKeyInfo in PEM ("-----BEGIN PUBLIC KEY-----"). */
export const publicKeyPemSchema = z
  .string()
  .max(4096)
  .regex(/^-----BEGIN PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END PUBLIC KEY-----\r?\n?$/, 'must be an SPKI public key in PEM ("-----BEGIN PUBLIC KEY-----")');

/** Single-use value from GET /v1/nonce: 32 random bytes, base64url. */
export const nonceSchema = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be a gateway nonce (43 base64url characters)');

const base64Schema = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');

/** Report counters are safe integers (canonical JSON allows nothing else) and start at 1. */
export const counterSchema = z.int().min(1).max(Number.MAX_SAFE_INTEGER);

// ---------------------------------------------------------------------------------------------
// Enrollment: POST /v1/enroll (docs/device-api.md "Admission"). The body is signed by the key it
// enrolls (proof of possession). Labels, channel and rings are the operator's (preauthorization,
// token, acceptance), never the device's: a body that carries them is refused.
// ---------------------------------------------------------------------------------------------

/** One X.509 certificate in PEM; an IDevID or a manufacturer intermediate is well under 8 KiB. */
export const certificatePemSchema = z
  .string()
  .max(8192)
  .regex(/^-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\r?\n?$/, 'must be one X.509 certificate in PEM ("-----BEGIN CERTIFICATE-----")');

const enrollClaimShape = {
  /** Domain separation: this signature can never pass for a check-in's or a report's. */
  type: z.literal('enroll'),
  deviceId: deviceIdSchema,
  hardwareId: hardwareIdSchema,
  publicKey: z.strictObject({ algorithm: keyAlgorithmSchema, pem: publicKeyPemSchema }),
  /** Factory identity: the IDevID (its key is publicKey, it names deviceId) first, then intermediates up to a factory CA. */
  factoryChain: z.array(certificatePemSchema).min(1).max(4).optional(),
};

/** What the device signs: the enroll body without its proof. */
export const enrollClaimSchema = z.object(enrollClaimShape).strict();

export const enrollRequestSchema = z
  .object({
    ...enrollClaimShape,
    /** base64 signature over the canonical JSON bytes of the claim (the body without `proof`) with publicKey. */
    proof: base64Schema.min(4).max(512),
  })
  .strict();

/** Keys an older device sent that are now the operator's: refused with device-selectors-refused. */
export const DEVICE_SELECTOR_KEYS = ['labels', 'channel', 'ring'] as const;

export const enrollResponseSchema = z.discriminatedUnion('status', [
  z
    .object({
      status: z.literal('admitted'),
      deviceId: deviceIdSchema,
      enrolledAt: timestampSchema,
      /** false when the same device re-enrolled with the same key (idempotent retry). */
      created: z.boolean(),
    })
    .strict(),
  z
    .object({
      /** A factory identity the fleet trusts, waiting for `ota fleet accept`: no nonces or check-ins until then. */
      status: z.literal('pending'),
      deviceId: deviceIdSchema,
      requestedAt: timestampSchema,
    })
    .strict(),
]);

// ---------------------------------------------------------------------------------------------
// Nonces: GET /v1/nonce?device=ID
// ---------------------------------------------------------------------------------------------

export const nonceResponseSchema = z
  .object({
    nonce: nonceSchema,
    expiresAt: timestampSchema,
  })
  .strict();

// ---------------------------------------------------------------------------------------------
// The signed envelope (POST /v1/checkin and POST /v1/reports carry one)
// ---------------------------------------------------------------------------------------------

export const signedEnvelopeSchema = z
  .object({
    /** base64 of the canonical JSON bytes of a check-in or report; the signature covers exactly these bytes. */
    payload: base64Schema.min(4).max(64 * 1024 * 4 / 3),
    /** base64 signature over the payload bytes with the device's enrolled key. */
    signature: base64Schema.min(4).max(512),
    /** Must equal the algorithm the device enrolled with. */
    algorithm: keyAlgorithmSchema,
  })
  .strict();

// ---------------------------------------------------------------------------------------------
// Check-in: POST /v1/checkin (signed)
// ---------------------------------------------------------------------------------------------

export const checkinRequestSchema = z
  .object({
    type: z.literal('checkin'),
    deviceId: deviceIdSchema,
    hardwareId: hardwareIdSchema,
    /** Installed release; null when the device runs an image that came from no release (factory image). */
    currentVersion: semverSchema.nullable(),
    imageSha256: sha256HexSchema,
    bootedSlot: slotNameSchema,
    /** The device's stored anti-rollback counter. */
    securityVersion: z.int().min(0),
    /** Delta encodings the device can apply, in preference order. Unknown names are allowed and ignored. */
    supportedDeltaFormats: z.array(z.string().min(1).max(32)).max(16),
    /** Freshness: a nonce from GET /v1/nonce, or the `nextNonce` of the device's previous check-in answer; used once. */
    nonce: nonceSchema,
    sentAt: timestampSchema,
    /**
     * The device reads `nextNonce` in the answer and signs its next check-in over it (one request
     * per check-in). Absent (older devices): the answer carries none, as before.
     */
    acceptsNextNonce: z.literal(true).optional(),
  })
  .strict();

/** Where the offered bytes are; urls are paths on the gateway ("/v1/..."), resolve them against its base URL. */
export const artifactHintSchema = z
  .object({
    kind: z.enum(['delta', 'full']),
    url: z.string().min(1),
    sha256: sha256HexSchema,
    /** Bytes to download. */
    length: z.int().min(0),
    /** For deltas: the release the delta starts from. */
    fromVersion: semverSchema.optional(),
    format: deltaFormatSchema.optional(),
  })
  .strict();

const releaseRefSchema = z
  .object({
    hardwareId: hardwareIdSchema,
    channel: channelSchema,
    version: semverSchema,
    securityVersion: z.int().min(0),
    /** Gateway path of the manifest and of its Sigstore bundle: the device verifies both offline. */
    manifestUrl: z.string().min(1),
    bundleUrl: z.string().min(1),
  })
  .strict();

export const checkinResponseSchema = z.discriminatedUnion('action', [
  /** Nothing to do; reason and rolloutId say why when a rollout keeps its release from the device (e.g. it failed here). */
  z.strictObject({ action: z.literal('none'), reason: z.string().optional(), rolloutId: z.string().optional(), pollAfterSeconds: z.int().min(1) }),
  z.strictObject({
    action: z.literal('update'),
    release: releaseRefSchema,
    /** A hint only: the device picks its artifact from the verified manifest. */
    artifact: artifactHintSchema,
    /** Set when a rollout assignment made this offer. */
    rolloutId: z.string().optional(),
    pollAfterSeconds: z.int().min(1),
  }),
  /** Do not install anything now (rollout halted or the device is not in an open ring). */
  z.strictObject({ action: z.literal('hold'), reason: z.string(), rolloutId: z.string().optional(), pollAfterSeconds: z.int().min(1) }),
  /**
   * Return to a previous release: switch back to the other slot when it still holds targetVersion's image
   * (otherSlotSha256 tells which image that is), else install the offered release. Filled by the rollout.
   */
  z.strictObject({
    action: z.literal('rollback'),
    reason: z.string(),
    rolloutId: z.string().optional(),
    targetVersion: semverSchema,
    /** sha256 of targetVersion's image, so the device can tell whether its other slot still holds it. */
    targetImageSha256: sha256HexSchema.optional(),
    release: releaseRefSchema.optional(),
    artifact: artifactHintSchema.optional(),
    pollAfterSeconds: z.int().min(1),
  }),
]);

// ---------------------------------------------------------------------------------------------
// Health reports: POST /v1/reports (signed)
// ---------------------------------------------------------------------------------------------

/**
 * What the gateway signs for every check-in answer (the wire body is the answer's fields plus
 * `signedAnswer`, an envelope over this): bound to the device and to the check-in's nonce, so an
 * answer cannot be replayed to a later check-in or handed to another device.
 */
/** The gateway's envelope around a check-in answer: as a device's, with room for an answer up to the check-in limit. */
export const signedAnswerEnvelopeSchema = signedEnvelopeSchema.extend({ payload: base64Schema.min(4).max(256 * 1024 * 4 / 3) });

export const checkinAnswerPayloadSchema = z.strictObject({
  type: z.literal('checkin-answer'),
  deviceId: deviceIdSchema,
  nonce: nonceSchema,
  issuedAt: timestampSchema,
  answer: checkinResponseSchema,
  /**
   * Only when the check-in set acceptsNextNonce: a fresh single-use nonce issued to this device for
   * its next check-in, signed with the answer (a fake gateway cannot hand it one). Also on the wire
   * body beside `signedAnswer`, for devices that pin no answer key.
   */
  nextNonce: nonceResponseSchema.optional(),
});

export const reportStateSchema = z.enum(['downloading', 'installed', 'booted', 'committed', 'rolled-back', 'failed']);

export const reportMetricsSchema = z
  .object({
    crashCount: z.int().min(0),
    uptimeSeconds: z.int().min(0),
    freeMemoryBytes: z.int().min(0),
  })
  .strict();

/** Device-defined extras; integers only (canonical JSON), so a temperature goes as millidegrees. */
export const customValuesSchema = z
  .record(z.string().min(1).max(64), z.union([z.string().max(1024), z.int(), z.boolean()]))
  .refine((values) => Object.keys(values).length <= 64, 'at most 64 custom values');

/** A device without fresh TUF metadata: since when (the expiry of its newest timestamp) and for how long. */
export const frozenSchema = z.strictObject({ since: timestampSchema, seconds: z.int().min(0).max(Number.MAX_SAFE_INTEGER) });

/** What the device queues and later signs; counter and nonce are added when it is sent. */
export const healthReportBodySchema = z
  .object({
    type: z.literal('report'),
    deviceId: deviceIdSchema,
    /** The release this report is about (the one being installed, or running). */
    releaseVersion: semverSchema,
    imageSha256: sha256HexSchema,
    slot: slotNameSchema,
    bootCount: z.int().min(0),
    state: reportStateSchema,
    /** Required with state "failed"; optional with "rolled-back" (why it fell back); absent otherwise. */
    failureKind: failureKindSchema.optional(),
    detail: z.string().max(2000).optional(),
    /**
     * Set while the device is frozen: the newest TUF timestamp it trusts expired at `since`, `seconds`
     * ago, so it installs nothing until fresh metadata (gateway or offline bundle) arrives (docs/trust.md).
     */
    frozen: frozenSchema.optional(),
    metrics: reportMetricsSchema,
    custom: customValuesSchema,
    createdAt: timestampSchema,
  })
  .strict();

export const healthReportSchema = healthReportBodySchema
  .extend({
    /** Monotonic per device: the gateway refuses a counter not above the last one it stored. */
    counter: counterSchema,
    nonce: nonceSchema,
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.state === 'failed' && !r.failureKind) ctx.addIssue({ code: 'custom', path: ['failureKind'], message: 'required when state is "failed"' });
    if (r.failureKind && r.state !== 'failed' && r.state !== 'rolled-back') {
      ctx.addIssue({ code: 'custom', path: ['failureKind'], message: `only allowed with state "failed" or "rolled-back" (state is "${r.state}")` });
    }
  });

export const reportResponseSchema = z
  .object({
    status: z.literal('accepted'),
    counter: counterSchema,
  })
  .strict();

// ---------------------------------------------------------------------------------------------
// Heartbeats: POST /v1/heartbeats (signed)
// ---------------------------------------------------------------------------------------------

/** Custom metrics a health check emits (`metric name=value` lines): integers only (canonical JSON). */
export const heartbeatMetricsSchema = z
  .record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, 'metric names: A-Z a-z 0-9 . _ : -, 1-64 chars'), z.int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER))
  .refine((values) => Object.keys(values).length <= 64, 'at most 64 metrics');

/** A listening socket as the device sees it: protocol and port, e.g. "tcp/22" (tcp6 and udp6 fold into tcp and udp). */
export const listeningPortSchema = z.string().regex(/^(tcp|udp)\/([1-9][0-9]{0,4})$/, 'must be tcp/PORT or udp/PORT').refine((p) => Number(p.split('/')[1]) <= 65_535, 'port must be at most 65535');
/** A service name (systemd unit or a configured name). */
export const serviceNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9@._:-]{0,127}$/, 'service names: A-Z a-z 0-9 @ . _ : -, 1-128 chars');
export const POSTURE_LIMITS = { ports: 256, services: 128 } as const;
/** How a device's posture can differ from what the fleet wants of it (attestation/drift.ts judges them). */
export const DRIFT_KINDS = [
  'unknown-listening-port',
  'unexpected-measurement',
  'release-mismatch',
  'trust-metadata-stale',
  'config-digest-mismatch',
  'agent-version-old',
  'service-unexpected',
] as const;
export const driftKindSchema = z.enum(DRIFT_KINDS);

/**
 * Posture facts (docs/attestation.md, "Posture and drift"): what the device itself sees of the
 * software it runs and what it exposes, in the heartbeat (the running release and slot are the
 * heartbeat's own releaseVersion and slot). Bounded: a device with more ports or services than the
 * limits sends the first ones and says it truncated.
 */
export const postureSchema = z
  .object({
    agentVersion: semverSchema,
    /** The boot PCR the TPM holds (measured boot), or without a TPM the sha256 of the booted slot's bytes; null: not measured. */
    bootMeasurement: z
      .discriminatedUnion('source', [
        z.strictObject({ source: z.literal('tpm-pcr'), pcr: z.int().min(0).max(23), value: sha256HexSchema }),
        z.strictObject({ source: z.literal('slot-digest'), value: sha256HexSchema }),
      ])
      .nullable(),
    /** Versions of the fleet's TUF roles the agent trusts now; null: the device pins no TUF root. */
    trust: z.strictObject({ rootVersion: z.int().min(1), targetsVersion: z.int().min(1).nullable() }).nullable(),
    /** sha256 of the canonical JSON of the agent's configuration. */
    configDigest: sha256HexSchema,
    /** Listening sockets, sorted, unique. */
    listening: z.array(listeningPortSchema).max(POSTURE_LIMITS.ports),
    /** Enabled services, sorted, unique. */
    services: z.array(serviceNameSchema).max(POSTURE_LIMITS.services),
    /** Set when a list hit its limit (or /proc/net was larger than the agent reads). */
    truncated: z.boolean(),
  })
  .strict();

/**
 * What a running device says once per heartbeat window, on whatever release it runs (the new one
 * of a rollout, or the previous one: the control cohort). Sent after commit, never during a trial boot.
 */
export const heartbeatSchema = z
  .object({
    type: z.literal('heartbeat'),
    deviceId: deviceIdSchema,
    /** The release the booted slot runs; null for a factory image. */
    releaseVersion: semverSchema.nullable(),
    imageSha256: sha256HexSchema,
    slot: slotNameSchema,
    bootCount: z.int().min(0),
    /** Boots since the previous heartbeat (reboots, watchdog resets): more than one in a window hints at a crash loop. */
    bootsSinceLast: z.int().min(0).max(1_000_000),
    /** The agent saw crashLoopBoots or more boots since the previous heartbeat. */
    crashLoop: z.boolean(),
    uptimeSeconds: z.int().min(0),
    /** The configured health checks, run again for this window. */
    healthChecks: z.strictObject({ run: z.int().min(0).max(256), failed: z.int().min(0).max(256) }),
    /** Names of the failing checks (bounded). */
    failedChecks: z.array(z.string().min(1).max(128)).max(32),
    metrics: heartbeatMetricsSchema,
    /** Set while the device is frozen (no fresh TUF metadata), as in a report: an idle device says so every window. */
    frozen: frozenSchema.optional(),
    /** Posture facts (agents before posture send none; the gateway then judges no drift). */
    posture: postureSchema.optional(),
    /** Seconds of the window this heartbeat closes (the device's heartbeat.intervalSeconds). */
    windowSeconds: z.int().min(1).max(7 * 86_400),
    /** Monotonic per device, its own sequence (separate from reports). */
    counter: counterSchema,
    nonce: nonceSchema,
    sentAt: timestampSchema,
  })
  .strict()
  .superRefine((h, ctx) => {
    if (h.healthChecks.failed > h.healthChecks.run) ctx.addIssue({ code: 'custom', path: ['healthChecks', 'failed'], message: 'cannot exceed run' });
  });

export const heartbeatResponseSchema = z
  .object({
    status: z.literal('accepted'),
    counter: counterSchema,
  })
  .strict();

/** Every gateway error: a short machine-readable code and a sentence for people. */
export const apiErrorSchema = z.object({ error: z.string(), detail: z.string() }).strict();

export type KeyAlgorithm = z.infer<typeof keyAlgorithmSchema>;
export type SlotName = z.infer<typeof slotNameSchema>;
export type Labels = z.infer<typeof labelsSchema>;
export type EnrollRequest = z.infer<typeof enrollRequestSchema>;
export type EnrollClaim = z.infer<typeof enrollClaimSchema>;
export type EnrollResponse = z.infer<typeof enrollResponseSchema>;
export type NonceResponse = z.infer<typeof nonceResponseSchema>;
export type SignedEnvelope = z.infer<typeof signedEnvelopeSchema>;
export type CheckinRequest = z.infer<typeof checkinRequestSchema>;
export type CheckinResponse = z.infer<typeof checkinResponseSchema>;
export type CheckinAnswerPayload = z.infer<typeof checkinAnswerPayloadSchema>;
export type ArtifactHint = z.infer<typeof artifactHintSchema>;
export type ReportState = z.infer<typeof reportStateSchema>;
export type ReportMetrics = z.infer<typeof reportMetricsSchema>;
export type HealthReportBody = z.infer<typeof healthReportBodySchema>;
export type HealthReport = z.infer<typeof healthReportSchema>;
export type Frozen = z.infer<typeof frozenSchema>;
export type ReportResponse = z.infer<typeof reportResponseSchema>;
export type ApiError = z.infer<typeof apiErrorSchema>;
export type Heartbeat = z.infer<typeof heartbeatSchema>;
export type HeartbeatResponse = z.infer<typeof heartbeatResponseSchema>;
export type Posture = z.infer<typeof postureSchema>;
