// Verifies a whole published release offline: the signed manifest first, then every artifact
// it names (image, deltas, SBOM, VEX, OpenVEX, provenance, image signature) by length, digest
// and, where they are signatures, by verifying them too.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress, createGunzip } from 'node:zlib';
import type { Manifest } from '../schemas/manifest.js';
import { SLSA_PROVENANCE_V1 } from '../signing/provenance.js';
import type { LocalTrustRootJSON } from '../signing/trust-root.js';
import { verifyBundle, type SignerPolicy } from '../signing/verify.js';
import { SignatureVerificationError } from '../signing/errors.js';
import { InputTooLargeError, readAtMost } from '../platform/bounded-read.js';
import { ArtifactMismatchError, OversizedInputError, ReleaseRejectedError } from './errors.js';
import { checkManifestFor, type InstalledState } from './manifest-checks.js';
import { verifyArtifactStream } from './verify-artifact.js';
import { verifySignedManifest, type VerifiedManifest } from './verify-manifest.js';

/** Where the manifest's locations are read from (artifact store, local folder, HTTP). */
export interface ArtifactReader {
  open(location: string): Promise<Readable>;
  read(location: string): Promise<Buffer>;
}

/**
 * Limits on the evidence files read whole (the manifest pins their sha256, not their length), enforced
 * while reading, before the digest or JSON parse (docs/signing.md). Images and deltas are streamed and
 * bounded by the lengths the manifest pins.
 */
export const EVIDENCE_LIMITS = {
  /** CycloneDX SBOM, VEX and OpenVEX documents. */
  evidenceBytes: 64 * 1024 * 1024,
  /** Sigstore bundles: the image signature and the provenance attestation (DSSE). */
  bundleBytes: 4 * 1024 * 1024,
} as const;

export type EvidenceLimits = { -readonly [K in keyof typeof EVIDENCE_LIMITS]: number };

export interface ReleaseCheck {
  artifact: string;
  ok: boolean;
  detail: string;
}

export interface VerifyReleaseInput {
  manifestBytes: Uint8Array;
  bundle: string;
  trustRoot: LocalTrustRootJSON;
  policy: SignerPolicy;
  reader: ArtifactReader;
  now?: Date;
  installed?: InstalledState;
  /** A local copy of the raw image; otherwise the stored image is decompressed to a temp file. */
  imagePath?: string;
  limits?: EvidenceLimits;
}

export interface VerifyReleaseReport {
  ok: boolean;
  manifest?: Manifest;
  signer?: VerifiedManifest['signer'];
  checks: ReleaseCheck[];
}

export async function verifyRelease(input: VerifyReleaseInput): Promise<VerifyReleaseReport> {
  const checks: ReleaseCheck[] = [];
  let verified: VerifiedManifest;
  try {
    verified = await verifySignedManifest(input);
    checkManifestFor(verified.manifest, { now: input.now ?? new Date(), installed: input.installed });
    checks.push({ artifact: 'manifest', ok: true, detail: `signed by ${describeSigner(verified.signer)}` });
  } catch (err) {
    checks.push({ artifact: 'manifest', ok: false, detail: describeError(err) });
    return { ok: false, checks };
  }
  const m = verified.manifest;
  const limits = input.limits ?? EVIDENCE_LIMITS;
  const record = async (artifact: string, check: () => Promise<string>) => {
    try {
      checks.push({ artifact, ok: true, detail: await check() });
    } catch (err) {
      checks.push({ artifact, ok: false, detail: describeError(err) });
    }
  };

  const scratch = await mkdtemp(join(tmpdir(), 'ota-verify-'));
  try {
    let imagePath = input.imagePath;
    await record('image', async () => {
      if (m.image.compression !== 'none') {
        await verifyArtifactStream(await input.reader.open(m.image.location), { name: 'stored image', sha256: m.image.compressedSha256, length: m.image.compressedLength });
      }
      if (!imagePath) {
        imagePath = join(scratch, 'image');
        const source = await input.reader.open(m.image.location);
        if (m.image.compression === 'none') await pipeline(source, createWriteStream(imagePath));
        else await pipeline(source, m.image.compression === 'gzip' ? createGunzip() : createBrotliDecompress(), createWriteStream(imagePath));
      }
      await verifyArtifactStream(createReadStream(imagePath), { name: 'image', sha256: m.image.sha256, length: m.image.length });
      return `sha256:${m.image.sha256}, ${m.image.length} bytes`;
    });
    await record('image signature', async () => {
      const bundle = await readPinned(input.reader, 'image signature bundle', m.imageSignatureBundle, limits.bundleBytes);
      if (!imagePath) throw new ArtifactMismatchError('image unavailable, cannot check its signature');
      const result = await verifyBundle({ bundle: bundle.toString('utf8'), artifact: { path: imagePath }, trustRoot: input.trustRoot, policy: input.policy });
      return `signed by ${describeSigner(result.signer)}`;
    });
    for (const delta of m.deltas) {
      await record(`delta from ${delta.fromVersion}`, async () => {
        await verifyArtifactStream(await input.reader.open(delta.location), { name: `delta from ${delta.fromVersion}`, sha256: delta.sha256, length: delta.length });
        return `${delta.format}, ${delta.length} bytes`;
      });
    }
    for (const [name, ref] of [['sbom', m.sbom], ['vex', m.vex], ['openvex', m.openvex]] as const) {
      await record(name, async () => {
        const bytes = await readPinned(input.reader, name, ref, limits.evidenceBytes);
        JSON.parse(bytes.toString('utf8'));
        return `sha256:${ref.sha256}`;
      });
    }
    await record('provenance', async () => {
      const bundle = await readPinned(input.reader, 'provenance', m.provenance, limits.bundleBytes);
      const result = await verifyBundle({
        bundle: bundle.toString('utf8'),
        artifact: { sha256: m.image.sha256 },
        trustRoot: input.trustRoot,
        policy: input.policy,
        predicateType: SLSA_PROVENANCE_V1,
      });
      const builder = (result.statement?.predicate as { runDetails?: { builder?: { id?: string } } } | undefined)?.runDetails?.builder?.id;
      return `SLSA v1 by ${builder ?? 'unknown builder'}`;
    });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return { ok: checks.every((c) => c.ok), manifest: m, signer: verified.signer, checks };
}

/** A pinned file read whole, at most `limit` bytes of it (an endless SBOM stops there), then its digest checked. */
export async function readPinned(reader: ArtifactReader, name: string, ref: { location: string; sha256: string }, limit: number): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readAtMost(await reader.open(ref.location), limit, name);
  } catch (error) {
    if (error instanceof InputTooLargeError) throw new OversizedInputError(error.message, { cause: error });
    throw error;
  }
  await verifyArtifactStream(Readable.from([bytes]), { name, sha256: ref.sha256 });
  return bytes;
}

function describeSigner(signer: VerifiedManifest['signer']): string {
  return signer.mode === 'key' ? `pinned key ${signer.hint}` : `${signer.identity} (${signer.issuer})`;
}

function describeError(err: unknown): string {
  if (err instanceof ReleaseRejectedError || err instanceof SignatureVerificationError) return `${err.code}: ${err.message}`;
  return (err as Error).message ?? String(err);
}
