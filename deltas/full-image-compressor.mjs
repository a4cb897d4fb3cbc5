// The compressor every full image goes through: the release activity (activities/release/compress.ts,
// store to store) and compressFullImage (deltas/artifact-child.mjs, file to file, which the tests and
// the bench measure) both build it here, so they produce and measure the same bytes.
// Plain .mjs so the child script loads it without a build; compiled code imports it through
// package.json's "#deltas/*.mjs" (types: full-image-compressor.d.mts).
import { constants as zlibConstants, createBrotliCompress, createGzip } from 'node:zlib';

/** gzip 9 / brotli 9: near-best ratio; brotli 11 is ~10x slower for ~5% less on binaries. */
export const DEFAULT_COMPRESSION_LEVEL = { gzip: 9, brotli: 9 };

/**
 * A zlib transform for `compression` at `level` (default DEFAULT_COMPRESSION_LEVEL). Node writes gzip
 * headers without a timestamp, so the same image always compresses to the same bytes.
 * @param {'gzip' | 'brotli'} compression
 * @param {{ level?: number, sizeHint?: number }} [options] sizeHint: the raw length, when known (brotli)
 */
export function createFullImageCompressor(compression, options = {}) {
  const level = options.level ?? DEFAULT_COMPRESSION_LEVEL[compression];
  if (compression === 'gzip') return createGzip({ level });
  return createBrotliCompress({
    params: {
      [zlibConstants.BROTLI_PARAM_QUALITY]: level,
      ...(options.sizeHint !== undefined && { [zlibConstants.BROTLI_PARAM_SIZE_HINT]: options.sizeHint }),
      [zlibConstants.BROTLI_PARAM_MODE]: zlibConstants.BROTLI_MODE_GENERIC,
    },
  });
}
