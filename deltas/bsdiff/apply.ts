// Applies a bsdiff patch in a child process. Used to verify every generated delta before it is
// published, and by tools that reconstruct images. A corrupt or hostile patch can at worst
// crash the child; the output appears only when complete (and matching expectedSha256).
import { writeAtomically } from '../../platform/atomic-write.js';
import { ArtifactJobError, runArtifactJob } from '../run-child.js';
import type { ChildRunStats, JobOptions } from '../types.js';

/** Refuse patches that declare a bigger output before bspatch allocates it. */
export const DEFAULT_MAX_PATCH_OUTPUT_BYTES = 4 * 1024 ** 3;

export interface ApplyPatchOptions extends JobOptions {
  /** When set, a result with another digest is an error and no output is left behind. */
  expectedSha256?: string;
  maxOutputBytes?: number;
}

export interface AppliedPatch extends ChildRunStats {
  path: string;
  sha256: string;
  length: number;
  /** Time in bspatch itself, without hashing the result. */
  patchMs: number;
}

export async function applyBsdiffPatch(oldPath: string, patchPath: string, outPath: string, options: ApplyPatchOptions = {}): Promise<AppliedPatch> {
  const maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_PATCH_OUTPUT_BYTES;
  return writeAtomically(outPath, async (tempPath) => {
    const run = await runArtifactJob<{ sha256: string; length: number; patchMs: number }>(
      { kind: 'apply', oldPath, patchPath, outPath: tempPath, maxOutputBytes },
      options,
    );
    const { sha256, length, patchMs } = run.result;
    if (options.expectedSha256 && sha256 !== options.expectedSha256.toLowerCase()) {
      throw new ArtifactJobError(`patch ${patchPath} applied to ${oldPath} gives sha256 ${sha256}, expected ${options.expectedSha256}`);
    }
    return { keep: true, value: { path: outPath, sha256, length, patchMs, durationMs: run.durationMs, peakRssBytes: run.peakRssBytes } };
  });
}
