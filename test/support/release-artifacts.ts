// Test helper (the release pipeline runs these steps as activities): everything a release needs
// from the image bytes: the compressed full image, then one bsdiff delta per previous release
// (sequentially: each diff needs ~17x its old image in RAM), with the skipped ones and their reasons. Shapes match the manifest's image/deltas/skippedDeltas, minus
// the store locations, which the publisher assigns.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { compressFullImage, generateBsdiffDelta, type ChildRunStats, type CompressedImage, type FullImageCompression, type JobOptions } from '../../deltas/index.js';
import type { SkippedDelta } from '../../schemas/manifest.js';

export interface PreviousRelease {
  version: string;
  imagePath: string;
  /** From the previous manifest; the file must match it. */
  sha256?: string;
}

export interface GenerateReleaseArtifactsOptions extends JobOptions {
  newImagePath: string;
  /** Created if missing; receives image.bin.gz|.br and delta-<fromVersion>.bsdiff. */
  outDir: string;
  previous: PreviousRelease[];
  compression?: FullImageCompression;
  level?: number;
  maxRatio?: number;
  newSha256?: string;
}

export interface GeneratedDelta {
  format: 'bsdiff';
  fromVersion: string;
  fromSha256: string;
  toSha256: string;
  sha256: string;
  length: number;
  compression: 'none';
  path: string;
  diff: ChildRunStats;
  verify: ChildRunStats;
}

export interface ReleaseArtifacts {
  image: CompressedImage;
  deltas: GeneratedDelta[];
  skippedDeltas: SkippedDelta[];
}

export async function generateReleaseArtifacts(options: GenerateReleaseArtifactsOptions): Promise<ReleaseArtifacts> {
  const compression = options.compression ?? 'gzip';
  await mkdir(options.outDir, { recursive: true });
  const image = await compressFullImage({
    ...options,
    imagePath: options.newImagePath,
    outPath: join(options.outDir, compression === 'gzip' ? 'image.bin.gz' : 'image.bin.br'),
    compression,
  });
  if (options.newSha256 && image.sha256 !== options.newSha256.toLowerCase()) {
    throw new Error(`new image ${options.newImagePath} has sha256 ${image.sha256}, expected ${options.newSha256}`);
  }

  const deltas: GeneratedDelta[] = [];
  const skippedDeltas: SkippedDelta[] = [];
  for (const prev of options.previous) {
    const result = await generateBsdiffDelta({
      ...options,
      oldImagePath: prev.imagePath,
      newImagePath: options.newImagePath,
      outPath: join(options.outDir, `delta-${prev.version}.bsdiff`),
      fullCompressedLength: image.compressedLength,
      oldSha256: prev.sha256,
      newSha256: image.sha256,
      onProgress: options.onProgress && ((p) => options.onProgress!({ ...p, fromVersion: prev.version })),
    });
    if (result.status === 'skipped') {
      skippedDeltas.push({ format: 'bsdiff', fromVersion: prev.version, reason: result.reason });
      continue;
    }
    deltas.push({
      format: 'bsdiff',
      fromVersion: prev.version,
      fromSha256: result.fromSha256,
      toSha256: result.toSha256,
      sha256: result.sha256,
      length: result.length,
      compression: 'none',
      path: result.path,
      diff: result.diff,
      verify: { durationMs: result.verify.durationMs, peakRssBytes: result.verify.peakRssBytes },
    });
  }
  return { image, deltas, skippedDeltas };
}
