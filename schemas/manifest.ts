// The release manifest contract: one signed JSON document per (hardware id, channel, version)
// telling a device what the image is, where the bytes are, which deltas exist and where the
// supply-chain evidence lives. Plus the per hardware/channel index that lists the releases.
//
// Everything is strict (unknown fields are errors) so a typo can never silently drop a field
// out of the signed bytes, and nothing has a default, so canonical bytes equal what was written.
import { z } from 'zod';
import { zodIssueFields } from '../platform/zod-issues.js';

export const MANIFEST_SCHEMA_VERSION = 1;
export const RELEASE_INDEX_SCHEMA_VERSION = 1;

// ---------------------------------------------------------------------------------------------
// Field formats
// ---------------------------------------------------------------------------------------------

export const sha256HexSchema = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'must be a sha256 digest: 64 lowercase hex characters');

export const hardwareIdSchema = z
  .string()
  .regex(
    /^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$/,
    'must be a lowercase hardware id: a-z, 0-9, ".", "_", "-", 1-64 chars, starting and ending alphanumeric',
  );

// The regular expression published at semver.org (SemVer 2.0.0), anchored.
const SEMVER_PATTERN =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

export const semverSchema = z
  .string()
  .max(256, 'must be at most 256 characters')
  .regex(SEMVER_PATTERN, 'must be a SemVer 2.0.0 version such as 1.4.0 or 2.0.0-rc.1+build.7')
  // Ordering (release/semver.ts) needs major, minor and patch to be exact JavaScript integers.
  .refine((v) => v.split(/[-+]/)[0]!.split('.').every((n) => n.length <= 15), 'major, minor and patch must be at most 15 digits each');

export const channelSchema = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be a channel name such as stable, beta or dev (lowercase letters, digits, "-")');

/** UTC only ("Z"): one spelling per instant keeps the signed bytes reproducible. */
export const timestampSchema = z.iso.datetime({ error: 'must be an ISO 8601 UTC timestamp such as 2026-01-31T12:00:00Z' });

/**
 * Where the bytes are: an http(s) URL, or a key in the release store ("releases/x/1.0.0/image.bin").
 * Key segments cannot start with "." so "..", "./" and hidden names are impossible.
 */
export const locationSchema = z
  .string()
  .max(2048, 'must be at most 2048 characters')
  .regex(
    /^(?:https?:\/\/[^\s/?#]+[^\s]*|[A-Za-z0-9_][A-Za-z0-9._-]*(?:\/[A-Za-z0-9_][A-Za-z0-9._-]*)*)$/,
    'must be an http(s) URL or a store key (segments of A-Z a-z 0-9 . _ -, not starting with ".")',
  );

/** Byte counts: non-negative safe integers. */
const byteLengthSchema = z.int().min(0);

export const compressionSchema = z.enum(['none', 'gzip', 'brotli']);

/**
 * Delta encodings (an enum, so it can grow):
 *   bsdiff  one whole-image BSDIFF40 patch (what `bspatch` applies; old + new image in memory)
 *   ops     the op-based format of docs/delta-format.md (streamed, bounded memory, resumable)
 * Devices parse with { ignoreUnknownDeltaFormats: true } so a manifest offering a newer format
 * still gives them the full image and the deltas they know.
 */
export const deltaFormatSchema = z.enum(['bsdiff', 'ops']);

/** A file referenced by the manifest, pinned by digest. */
export const artifactRefSchema = z
  .object({
    location: locationSchema,
    sha256: sha256HexSchema,
  })
  .strict();

// ---------------------------------------------------------------------------------------------
// Manifest parts
// ---------------------------------------------------------------------------------------------

const imageCommon = {
  /** Digest and size of the raw image as written to the device's inactive slot. */
  sha256: sha256HexSchema.describe('sha256 of the raw (uncompressed) image'),
  length: z.int().min(1).describe('size in bytes of the raw (uncompressed) image'),
  /** Where the stored (possibly compressed) image bytes are. */
  location: locationSchema.describe('where the stored, possibly compressed, image bytes are'),
};

const uncompressedImageSchema = z
  .object({
    ...imageCommon,
    compression: z.literal('none'),
  })
  .strict();

const compressedImageSchema = z
  .object({
    ...imageCommon,
    compression: z.enum(['gzip', 'brotli']),
    /** Digest and size of the stored compressed bytes, checked while downloading. */
    compressedSha256: sha256HexSchema.describe('sha256 of the stored compressed bytes'),
    compressedLength: byteLengthSchema.describe('size in bytes of the stored compressed bytes'),
  })
  .strict();

export const manifestImageSchema = z.discriminatedUnion('compression', [uncompressedImageSchema, compressedImageSchema]);

export const manifestDeltaSchema = z
  .object({
    format: deltaFormatSchema,
    /** The release this delta starts from, and the exact image it applies to. */
    fromVersion: semverSchema.describe('release the delta starts from'),
    fromSha256: sha256HexSchema.describe('sha256 of the raw image the delta applies to'),
    /** Digest of the image after applying: must equal image.sha256. */
    toSha256: sha256HexSchema.describe('sha256 of the raw image after applying; equals image.sha256'),
    /** Digest and size of the stored delta bytes (what is downloaded). */
    sha256: sha256HexSchema.describe('sha256 of the stored delta bytes (as downloaded)'),
    length: byteLengthSchema.describe('size in bytes of the stored delta (as downloaded)'),
    location: locationSchema,
    /** Extra compression wrapped around the delta file (bsdiff and ops payloads are compressed inside already). */
    compression: compressionSchema.describe('compression wrapped around the delta file; bsdiff and ops payloads are compressed inside already'),
  })
  .strict();

export const skippedDeltaSchema = z
  .object({
    format: deltaFormatSchema,
    fromVersion: semverSchema,
    /** Why no delta is offered, e.g. "delta 9.1 MB is not < 90% of the compressed full image 9.8 MB". */
    reason: z.string().min(1).max(500),
  })
  .strict();

// ---------------------------------------------------------------------------------------------
// The manifest
// ---------------------------------------------------------------------------------------------

/** Measured boot: which PCR (sha256 bank) and the value booting the release leaves in it. */
export const bootMeasurementSchema = z.object({ pcr: z.int().min(0).max(23), bank: z.literal('sha256'), value: sha256HexSchema }).strict();

export const manifestSchema = z
  .object({
    schemaVersion: z.literal(MANIFEST_SCHEMA_VERSION),
    hardwareId: hardwareIdSchema,
    version: semverSchema,
    /** Anti-rollback counter: devices refuse images whose securityVersion is below their stored one. */
    securityVersion: z.int().min(0).describe('anti-rollback counter; devices refuse a lower value than stored'),
    channel: channelSchema,
    created: timestampSchema,
    /** Devices refuse the manifest after this instant (freeze-attack protection). */
    expires: timestampSchema.describe('devices refuse the manifest after this instant'),
    image: manifestImageSchema,
    /** Sigstore bundle signing the raw image digest. */
    imageSignatureBundle: artifactRefSchema,
    deltas: z.array(manifestDeltaSchema).max(256),
    skippedDeltas: z.array(skippedDeltaSchema).max(256),
    /** CycloneDX SBOM of the image. */
    sbom: artifactRefSchema,
    /** CycloneDX VEX statements for the SBOM's components. */
    vex: artifactRefSchema,
    /** The same exploitability statements as OpenVEX. */
    openvex: artifactRefSchema,
    /** SLSA provenance (in-toto statement) for the image build. */
    provenance: artifactRefSchema,
    /** Measured boot: the boot PCR's value after booting this release (release/boot-measurement.ts); attestation compares quotes with it. */
    bootMeasurement: bootMeasurementSchema.optional().describe('the boot PCR value a measured boot of this release yields'),
  })
  .strict()
  .meta({
    title: 'edge-ota release manifest',
    description: 'One release of one hardware id on one channel: image, deltas, signature and supply-chain evidence.',
  })
  .superRefine((m, ctx) => {
    if (Date.parse(m.expires) <= Date.parse(m.created)) {
      ctx.addIssue({ code: 'custom', path: ['expires'], message: `must be after created (${m.created})` });
    }
    const seen = new Set<string>();
    m.deltas.forEach((d, i) => {
      if (d.toSha256 !== m.image.sha256) {
        ctx.addIssue({ code: 'custom', path: ['deltas', i, 'toSha256'], message: 'must equal image.sha256' });
      }
      if (d.fromSha256 === m.image.sha256) {
        ctx.addIssue({ code: 'custom', path: ['deltas', i, 'fromSha256'], message: 'must differ from image.sha256' });
      }
      const key = `${d.format}:${d.fromSha256}`;
      if (seen.has(key)) {
        ctx.addIssue({ code: 'custom', path: ['deltas', i], message: `duplicate ${d.format} delta from ${d.fromSha256}` });
      }
      seen.add(key);
    });
  });

export type Manifest = z.infer<typeof manifestSchema>;
export type BootMeasurement = z.infer<typeof bootMeasurementSchema>;
export type ManifestImage = z.infer<typeof manifestImageSchema>;
export type ManifestDelta = z.infer<typeof manifestDeltaSchema>;
export type SkippedDelta = z.infer<typeof skippedDeltaSchema>;
export type ArtifactRef = z.infer<typeof artifactRefSchema>;
export type Compression = z.infer<typeof compressionSchema>;
export type DeltaFormat = z.infer<typeof deltaFormatSchema>;

// ---------------------------------------------------------------------------------------------
// The release index: what a device or operator lists first, one per hardware id and channel
// ---------------------------------------------------------------------------------------------

export const releaseIndexEntrySchema = z
  .object({
    version: semverSchema,
    securityVersion: z.int().min(0),
    created: timestampSchema,
    /** The signed manifest of that release. */
    manifest: artifactRefSchema,
  })
  .strict();

export const releaseIndexSchema = z
  .object({
    schemaVersion: z.literal(RELEASE_INDEX_SCHEMA_VERSION),
    hardwareId: hardwareIdSchema,
    channel: channelSchema,
    updated: timestampSchema,
    releases: z.array(releaseIndexEntrySchema),
  })
  .strict()
  .meta({ title: 'edge-ota release index', description: 'The releases of one hardware id on one channel.' })
  .superRefine((index, ctx) => {
    const seen = new Set<string>();
    index.releases.forEach((r, i) => {
      if (seen.has(r.version)) ctx.addIssue({ code: 'custom', path: ['releases', i, 'version'], message: `duplicate version ${r.version}` });
      seen.add(r.version);
    });
  });

export type ReleaseIndex = z.infer<typeof releaseIndexSchema>;
export type ReleaseIndexEntry = z.infer<typeof releaseIndexEntrySchema>;

// ---------------------------------------------------------------------------------------------
// Parsing with path-named errors
// ---------------------------------------------------------------------------------------------

export interface DocumentIssue {
  /** Field path such as "deltas[0].fromSha256"; "(root)" for the document itself. */
  path: string;
  message: string;
}

export class ManifestError extends Error {
  constructor(
    readonly document: string,
    readonly issues: DocumentIssue[],
  ) {
    super(`invalid ${document}:\n${issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n')}`);
    this.name = 'ManifestError';
  }
}

// One issue per unknown key, so the message names the offending field itself.
function toIssues(error: z.ZodError): DocumentIssue[] {
  return zodIssueFields(error, { indexes: 'brackets', unknownKeys: 'per-key' });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function parseVersionedDocument<S extends z.ZodType>(
  schema: S,
  bytes: Uint8Array | string,
  document: string,
  schemaVersion: number,
  prepare: (json: Record<string, unknown>) => void = () => {},
): z.infer<S> {
  let text: string;
  try {
    text = typeof bytes === 'string' ? bytes : utf8.decode(bytes);
  } catch {
    throw new ManifestError(document, [{ path: '(root)', message: 'not valid UTF-8' }]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ManifestError(document, [{ path: '(root)', message: `malformed JSON: ${(err as Error).message}` }]);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ManifestError(document, [{ path: '(root)', message: 'must be a JSON object' }]);
  }
  // Checked first: a document from a newer schema would otherwise bury the one real problem under field errors.
  const found = (json as Record<string, unknown>).schemaVersion;
  if (found !== schemaVersion) {
    throw new ManifestError(document, [
      { path: 'schemaVersion', message: `unsupported schemaVersion ${JSON.stringify(found) ?? 'undefined'}; this reader understands ${schemaVersion}` },
    ]);
  }
  prepare(json as Record<string, unknown>);
  const result = schema.safeParse(json);
  if (!result.success) throw new ManifestError(document, toIssues(result.error));
  return result.data;
}

export interface ParseManifestOptions {
  /**
   * Drop deltas whose format this reader does not know instead of rejecting the manifest
   * (for devices reading manifests written by a newer pipeline). Default false: the pipeline
   * and CI validate strictly. Signatures cover the raw bytes, so dropping after verification is safe.
   */
  ignoreUnknownDeltaFormats?: boolean;
}

const knownDeltaFormats: ReadonlySet<unknown> = new Set(deltaFormatSchema.options);

/** Parses and validates manifest bytes; throws ManifestError listing every bad field path. */
export function parseManifest(bytes: Uint8Array | string, options: ParseManifestOptions = {}): Manifest {
  return parseVersionedDocument(manifestSchema, bytes, 'release manifest', MANIFEST_SCHEMA_VERSION, (json) => {
    if (!options.ignoreUnknownDeltaFormats) return;
    const keep = (entry: unknown) => !(entry && typeof entry === 'object' && typeof (entry as { format?: unknown }).format === 'string' && !knownDeltaFormats.has((entry as { format: string }).format));
    if (Array.isArray(json.deltas)) json.deltas = json.deltas.filter(keep);
    if (Array.isArray(json.skippedDeltas)) json.skippedDeltas = json.skippedDeltas.filter(keep);
  });
}

/** Parses and validates release index bytes; throws ManifestError listing every bad field path. */
export function parseReleaseIndex(bytes: Uint8Array | string): ReleaseIndex {
  return parseVersionedDocument(releaseIndexSchema, bytes, 'release index', RELEASE_INDEX_SCHEMA_VERSION);
}

// ---------------------------------------------------------------------------------------------
// Canonical bytes: what gets signed
// ---------------------------------------------------------------------------------------------

function sortKeys(value: unknown, path: string): unknown {
  if (Array.isArray(value)) return value.map((v, i) => sortKeys(v, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v, path ? `${path}.${key}` : key);
    }
    return out;
  }
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    // Only integers: float formatting differs between JSON serializers, integers do not.
    throw new TypeError(`${path || '(root)'}: canonical JSON allows only safe integers, got ${value}`);
  }
  return value;
}

/**
 * Compact JSON with object keys sorted by UTF-16 code units, UTF-8 encoded. For documents that hold
 * only strings, integers, booleans, arrays and objects this coincides with RFC 8785 (JCS).
 */
export function canonicalJsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(sortKeys(value, '')));
}

/** Validates, then serializes canonically, so an invalid manifest can never be signed. */
export function canonicalManifestBytes(manifest: Manifest): Uint8Array {
  const result = manifestSchema.safeParse(manifest);
  if (!result.success) throw new ManifestError('release manifest', toIssues(result.error));
  return canonicalJsonBytes(result.data);
}

/** Validates, then serializes canonically. */
export function canonicalReleaseIndexBytes(index: ReleaseIndex): Uint8Array {
  const result = releaseIndexSchema.safeParse(index);
  if (!result.success) throw new ManifestError('release index', toIssues(result.error));
  return canonicalJsonBytes(result.data);
}

// ---------------------------------------------------------------------------------------------
// What should a device download?
// ---------------------------------------------------------------------------------------------

export type UpdateChoice =
  | { kind: 'up-to-date' }
  | { kind: 'delta'; delta: ManifestDelta; downloadLength: number }
  | {
      kind: 'full';
      image: ManifestImage;
      downloadLength: number;
      reason: 'installed-image-unknown' | 'no-delta-from-installed-image' | 'no-supported-delta-format';
    };

/**
 * Pure decision: a delta whose fromSha256 is the installed image (smallest download wins; ties go
 * to the device's format preference order, then manifest order), else the full image.
 */
export function chooseUpdateArtifact(
  manifest: Manifest,
  installedSha256: string | null | undefined,
  supportedFormats: readonly DeltaFormat[],
): UpdateChoice {
  const installed = installedSha256?.toLowerCase();
  if (installed === manifest.image.sha256) return { kind: 'up-to-date' };

  const full = (reason: Extract<UpdateChoice, { kind: 'full' }>['reason']): UpdateChoice => ({
    kind: 'full',
    image: manifest.image,
    downloadLength: manifest.image.compression === 'none' ? manifest.image.length : manifest.image.compressedLength,
    reason,
  });
  if (!installed) return full('installed-image-unknown');

  const fromInstalled = manifest.deltas.filter((d) => d.fromSha256 === installed);
  if (fromInstalled.length === 0) return full('no-delta-from-installed-image');

  const candidates = fromInstalled.filter((d) => supportedFormats.includes(d.format));
  if (candidates.length === 0) return full('no-supported-delta-format');

  const preference = (d: ManifestDelta) => supportedFormats.indexOf(d.format);
  // Array.prototype.sort is stable, so equal candidates keep manifest order.
  const best = [...candidates].sort((a, b) => a.length - b.length || preference(a) - preference(b))[0]!;
  return { kind: 'delta', delta: best, downloadLength: best.length };
}
