// One bsdiff delta from a previous image to the new one: diff in a child process, apply the
// skip rule, then prove the patch by applying it and comparing sha256 with the target.
// Only a verified delta is renamed into place.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyBsdiffPatch } from './apply-patch.js';
import { discard, tempPathFor, writeAtomically } from '../platform/atomic-write.js';
import { checkDigest, type DeltaInputs } from './delta-inputs.js';
import { resolveBsdiffTool } from './ops/generate.js';
import { runArtifactJob } from './run-child.js';
import { DEFAULT_MAX_DELTA_RATIO, deltaSkipReason } from './skip-rule.js';
import type { ChildRunStats, JobOptions } from './types.js';

export interface GenerateBsdiffDeltaOptions extends JobOptions, DeltaInputs {
  /** 'native' = ota-bsdiff, 'node' = bsdiff-node, 'auto' (default) = native when built; the patch bytes are the same. */
  bsdiffEngine?: 'auto' | 'native' | 'node';
}

interface DeltaFacts {
  format: 'bsdiff';
  fromSha256: string;
  toSha256: string;
  /** Patch file size and digest. */
  length: number;
  sha256: string;
  fullCompressedLength: number;
  /** length / fullCompressedLength */
  ratio: number;
  diff: ChildRunStats;
  /** Wall time of the whole call. */
  durationMs: number;
}

export type BsdiffDeltaResult =
  | (DeltaFacts & { status: 'generated'; path: string; verify: ChildRunStats & { patchMs: number } })
  | (DeltaFacts & { status: 'skipped'; reason: string });

interface DiffJobResult {
  fromSha256: string;
  toSha256: string;
  sha256: string;
  length: number;
  diffMs: number;
}

export async function generateBsdiffDelta(options: GenerateBsdiffDeltaOptions): Promise<BsdiffDeltaResult> {
  const started = Date.now();
  const maxRatio = options.maxRatio ?? DEFAULT_MAX_DELTA_RATIO;
  return writeAtomically<BsdiffDeltaResult>(options.outPath, async (patchTemp) => {
    const bsdiffTool = resolveBsdiffTool(options.bsdiffEngine);
    const diff = await runArtifactJob<DiffJobResult>({ kind: 'diff', oldPath: options.oldImagePath, newPath: options.newImagePath, patchPath: patchTemp, bsdiffTool }, options);
    const r = diff.result;
    checkDigest(`old image ${options.oldImagePath}`, r.fromSha256, options.oldSha256);
    checkDigest(`new image ${options.newImagePath}`, r.toSha256, options.newSha256);
    const facts: DeltaFacts = {
      format: 'bsdiff',
      fromSha256: r.fromSha256,
      toSha256: r.toSha256,
      length: r.length,
      sha256: r.sha256,
      fullCompressedLength: options.fullCompressedLength,
      ratio: options.fullCompressedLength > 0 ? r.length / options.fullCompressedLength : Infinity,
      diff: { durationMs: diff.durationMs, peakRssBytes: diff.peakRssBytes },
      durationMs: 0,
    };

    const reason =
      r.fromSha256 === r.toSha256 ? 'old and new images are identical' : deltaSkipReason(r.length, options.fullCompressedLength, maxRatio);
    if (reason) return { keep: false, value: { ...facts, status: 'skipped', reason, durationMs: Date.now() - started } };

    // Never publish an unverified delta: rebuild the target from old + patch and compare digests.
    const verifyOut = tempPathFor(join(options.scratchDir ?? tmpdir(), 'delta-verify.bin'));
    try {
      const verify = await applyBsdiffPatch(options.oldImagePath, patchTemp, verifyOut, {
        ...options,
        expectedSha256: r.toSha256,
        onProgress: options.onProgress && ((p) => options.onProgress!({ ...p, phase: 'verifying' })),
      });
      return {
        keep: true,
        value: {
          ...facts,
          status: 'generated',
          path: options.outPath,
          verify: { durationMs: verify.durationMs, peakRssBytes: verify.peakRssBytes, patchMs: verify.patchMs },
          durationMs: Date.now() - started,
        },
      };
    } finally {
      await discard(verifyOut);
    }
  });
}
