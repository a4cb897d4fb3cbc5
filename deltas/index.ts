// Binary deltas and compressed full images for releases; heavy work runs in a child process.
export * from './types.js';
export { ArtifactJobError, artifactChildPath } from './run-child.js';
export { DEFAULT_MAX_DELTA_RATIO, deltaSkipReason } from './skip-rule.js';
export { compressFullImage, DEFAULT_COMPRESSION_LEVEL } from './compress-image.js';
export type { CompressedImage, CompressFullImageOptions, FullImageCompression } from './compress-image.js';
export { applyBsdiffPatch, DEFAULT_MAX_PATCH_OUTPUT_BYTES } from './apply-patch.js';
export type { AppliedPatch, ApplyPatchOptions } from './apply-patch.js';
export { generateBsdiffDelta } from './generate-delta.js';
export type { BsdiffDeltaResult, GenerateBsdiffDeltaOptions } from './generate-delta.js';
export { generateVerifiedOpsDelta } from './verified-ops-delta.js';
export type { GenerateVerifiedOpsDeltaOptions, VerifiedOpsDeltaResult } from './verified-ops-delta.js';
export { generateReleaseArtifacts } from './release-artifacts.js';
export type { GeneratedDelta, GenerateReleaseArtifactsOptions, PreviousRelease, ReleaseArtifacts } from './release-artifacts.js';
