import type { Transform } from 'node:stream';

export type FullImageCompression = 'gzip' | 'brotli';

/** gzip 9 / brotli 9: near-best ratio; brotli 11 is ~10x slower for ~5% less on binaries. */
export const DEFAULT_COMPRESSION_LEVEL: Record<FullImageCompression, number>;

/** The zlib transform every full image goes through (release activity and compressFullImage alike). */
export function createFullImageCompressor(compression: FullImageCompression, options?: { level?: number; sizeHint?: number }): Transform;
