// The compressed full image: the fallback every device can use, and the size a delta must beat.
// File to file in a child process, through the same compressor as the release activity
// (full-image-compressor.mjs), so what the tests and the bench measure is what releases publish.
import { DEFAULT_COMPRESSION_LEVEL, type FullImageCompression } from '#deltas/full-image-compressor.mjs';
import { writeAtomically } from '../platform/atomic-write.js';
import { runArtifactJob } from './run-child.js';
import type { ChildRunStats, JobOptions } from './types.js';

export { DEFAULT_COMPRESSION_LEVEL, type FullImageCompression };

export interface CompressFullImageOptions extends JobOptions {
  imagePath: string;
  outPath: string;
  compression: FullImageCompression;
  level?: number;
}

export interface CompressedImage extends ChildRunStats {
  path: string;
  compression: FullImageCompression;
  /** Raw image. */
  sha256: string;
  length: number;
  /** Stored bytes at `path`. */
  compressedSha256: string;
  compressedLength: number;
}

export async function compressFullImage(options: CompressFullImageOptions): Promise<CompressedImage> {
  const { imagePath, outPath, compression } = options;
  const level = options.level ?? DEFAULT_COMPRESSION_LEVEL[compression];
  return writeAtomically(outPath, async (tempPath) => {
    const run = await runArtifactJob<Omit<CompressedImage, 'path' | 'compression' | keyof ChildRunStats>>(
      { kind: 'compress', imagePath, outPath: tempPath, compression, level },
      options,
    );
    return { keep: true, value: { path: outPath, compression, ...run.result, durationMs: run.durationMs, peakRssBytes: run.peakRssBytes } };
  });
}
