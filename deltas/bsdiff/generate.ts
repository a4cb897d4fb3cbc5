// One bsdiff delta from a previous image to the new one: diff in a child process, apply the
// skip rule, then prove the patch by applying it and comparing sha256 with the target
// (the shared step in ../verified-delta.ts). Only a verified delta is renamed into place.
import { resolveBsdiffTool, type BsdiffEngine } from '../bsdiff-engine.js';
import type { DeltaInputs } from '../delta-inputs.js';
import { runArtifactJob } from '../run-child.js';
import type { ChildRunStats, JobOptions } from '../types.js';
import { generateVerifiedDelta, type VerifiedDeltaResult } from '../verified-delta.js';
import { applyBsdiffPatch } from './apply.js';

export interface GenerateBsdiffDeltaOptions extends JobOptions, DeltaInputs {
  /** 'native' = ota-bsdiff, 'node' = bsdiff-node, 'auto' (default) = native when built; the patch bytes are the same. */
  bsdiffEngine?: BsdiffEngine;
}

interface BsdiffPatchFacts {
  format: 'bsdiff';
  fromSha256: string;
  toSha256: string;
  /** Patch file size and digest. */
  length: number;
  sha256: string;
  diff: ChildRunStats;
}

export type BsdiffDeltaResult = VerifiedDeltaResult<BsdiffPatchFacts, ChildRunStats & { patchMs: number }>;

interface DiffJobResult {
  fromSha256: string;
  toSha256: string;
  sha256: string;
  length: number;
  diffMs: number;
}

export async function generateBsdiffDelta(options: GenerateBsdiffDeltaOptions): Promise<BsdiffDeltaResult> {
  return generateVerifiedDelta(options, {
    verifyFileName: 'delta-verify.bin',
    async generate(patchPath): Promise<BsdiffPatchFacts> {
      const bsdiffTool = resolveBsdiffTool(options.bsdiffEngine);
      const diff = await runArtifactJob<DiffJobResult>({ kind: 'diff', oldPath: options.oldImagePath, newPath: options.newImagePath, patchPath, bsdiffTool }, options);
      const r = diff.result;
      return { format: 'bsdiff', fromSha256: r.fromSha256, toSha256: r.toSha256, length: r.length, sha256: r.sha256, diff: { durationMs: diff.durationMs, peakRssBytes: diff.peakRssBytes } };
    },
    async verify(patchPath, outPath, facts) {
      const verify = await applyBsdiffPatch(options.oldImagePath, patchPath, outPath, {
        ...options,
        expectedSha256: facts.toSha256,
        onProgress: options.onProgress && ((p) => options.onProgress!({ ...p, phase: 'verifying' })),
      });
      return { durationMs: verify.durationMs, peakRssBytes: verify.peakRssBytes, patchMs: verify.patchMs };
    },
  });
}
