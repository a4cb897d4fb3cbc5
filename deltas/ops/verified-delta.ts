// One ops delta (docs/delta-format.md) from a previous image to the new one, for a release: generate
// it with the worker pool, apply the skip rule, then prove it by applying it to the old image and
// re-hashing the result (the shared step in ../verified-delta.ts, as for bsdiff). Only a verified
// delta is renamed into place.
import { sha256OfFile } from '../../platform/file-sha256.js';
import type { DeltaInputs } from '../delta-inputs.js';
import { ArtifactJobError } from '../run-child.js';
import { generateVerifiedDelta, type VerifiedDeltaResult } from '../verified-delta.js';
import { applyOpsDelta } from './apply.js';
import { generateOpsDelta, type GeneratedOpsDelta } from './generate.js';

export interface GenerateVerifiedOpsDeltaOptions extends DeltaInputs {
  signal?: AbortSignal;
  onProgress?: (progress: { phase: 'hashing' | 'scanning' | 'writing' | 'verifying'; bytesDone: number; bytesTotal: number }) => void;
}

interface OpsPatchFacts {
  format: 'ops';
  fromSha256: string;
  toSha256: string;
  /** Patch file size and digest. */
  length: number;
  sha256: string;
  opCount: number;
  generate: Pick<GeneratedOpsDelta, 'durationMs' | 'workers' | 'peakRssBytes'>;
}

export type VerifiedOpsDeltaResult = VerifiedDeltaResult<OpsPatchFacts, { durationMs: number; peakRssBytes: number }>;

export async function generateVerifiedOpsDelta(options: GenerateVerifiedOpsDeltaOptions): Promise<VerifiedOpsDeltaResult> {
  return generateVerifiedDelta(options, {
    verifyFileName: 'ops-delta-verify.bin',
    async generate(patchPath): Promise<OpsPatchFacts> {
      const generated = await generateOpsDelta({
        sourcePath: options.oldImagePath,
        targetPath: options.newImagePath,
        outPath: patchPath,
        scratchDir: options.scratchDir,
        signal: options.signal,
        onProgress: options.onProgress && ((p) => options.onProgress!({ phase: p.phase, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal })),
      });
      return {
        format: 'ops',
        fromSha256: generated.sourceSha256,
        toSha256: generated.targetSha256,
        length: generated.length,
        sha256: generated.sha256,
        opCount: generated.opCount,
        generate: { durationMs: generated.durationMs, workers: generated.workers, peakRssBytes: generated.peakRssBytes },
      };
    },
    // Rebuild the target the way a device does, then re-hash the whole output (the per-op digests
    // and the trailer are the patch's own claims).
    async verify(patchPath, outPath, facts) {
      const applied = await applyOpsDelta({
        sourcePath: options.oldImagePath,
        patchPath,
        outPath,
        signal: options.signal,
        onProgress: options.onProgress && ((p) => options.onProgress!({ phase: 'verifying', bytesDone: p.targetOffset, bytesTotal: p.targetLength })),
      });
      const rebuilt = (await sha256OfFile(outPath)).sha256;
      if (rebuilt !== facts.toSha256) {
        throw new ArtifactJobError(`ops patch applied to ${options.oldImagePath} gives sha256 ${rebuilt}, expected ${facts.toSha256}`);
      }
      return { durationMs: applied.durationMs, peakRssBytes: applied.peakRssBytes };
    },
  });
}
