// What every release delta generator (bsdiff, ops) is given, and the input-digest check they share.
import { ArtifactJobError } from './run-child.js';

export interface DeltaInputs {
  oldImagePath: string;
  newImagePath: string;
  outPath: string;
  /** Size of the compressed full image the delta competes with. */
  fullCompressedLength: number;
  /** Delta must be < maxRatio x fullCompressedLength (default 0.9). */
  maxRatio?: number;
  /** When known (from the previous manifest / the build), the inputs must have these digests. */
  oldSha256?: string;
  newSha256?: string;
  /** Where verification output and other temporary files go (default: the OS temp dir); always removed. */
  scratchDir?: string;
}

/** An input whose digest differs from the one the caller knows is the wrong file: stop before publishing anything. */
export function checkDigest(what: string, actual: string, expected: string | undefined): void {
  if (expected && actual !== expected.toLowerCase()) throw new ArtifactJobError(`${what} has sha256 ${actual}, expected ${expected}`);
}
