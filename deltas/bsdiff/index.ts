// The whole-image bsdiff format (BSDIFF40): verified generation and applying, each job in a child process.
export { applyBsdiffPatch, DEFAULT_MAX_PATCH_OUTPUT_BYTES } from './apply.js';
export type { AppliedPatch, ApplyPatchOptions } from './apply.js';
export { generateBsdiffDelta } from './generate.js';
export type { BsdiffDeltaResult, GenerateBsdiffDeltaOptions } from './generate.js';
