// Binary deltas and compressed full images for releases; heavy work runs in a child process.
export * from './types.js';
export { ArtifactJobError, artifactChildPath } from './run-child.js';
export { DEFAULT_MAX_DELTA_RATIO, deltaSkipReason } from './skip-rule.js';
export { compressFullImage, DEFAULT_COMPRESSION_LEVEL } from './compress-image.js';
export type { CompressedImage, CompressFullImageOptions, FullImageCompression } from './compress-image.js';
export * from './bsdiff/index.js';
export { generateVerifiedOpsDelta } from './ops/verified-delta.js';
export type { GenerateVerifiedOpsDeltaOptions, VerifiedOpsDeltaResult } from './ops/verified-delta.js';
