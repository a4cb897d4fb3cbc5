// The compressed full image: the fallback every device can use, and the size a delta must beat.
import { writeAtomically } from '../platform/atomic-write.js';
import { runArtifactJob } from './run-child.js';
import type { ChildRunStats, JobOptions } from './types.js';

export type FullImageCompression = 'gzip' | 'brotli';

/** gzip 9 / brotli 9: near-best ratio; brotli 11 is ~10x slower for ~5% less on binaries. */
export const DEFAULT_COMPRESSION_LEVEL: Record<FullImageCompression, number> = { gzip: 9, brotli: 9 };

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
