// One ops delta (docs/delta-format.md) from a previous image to the new one, for a release: generate
// it with the worker pool, apply the skip rule, then prove it by applying it to the old image and
// re-hashing the result. Only a verified delta is renamed into place, as for bsdiff (generate-delta.ts).
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyOpsDelta, generateOpsDelta, type GeneratedOpsDelta } from './ops/index.js';
import { discard, tempPathFor, writeAtomically } from '../platform/atomic-write.js';
import { ArtifactJobError } from './run-child.js';
import { checkDigest, type DeltaInputs } from './delta-inputs.js';
import { sha256OfFile } from '../platform/file-sha256.js';
import { DEFAULT_MAX_DELTA_RATIO, deltaSkipReason } from './skip-rule.js';

export interface GenerateVerifiedOpsDeltaOptions extends DeltaInputs {
  signal?: AbortSignal;
  onProgress?: (progress: { phase: 'hashing' | 'scanning' | 'writing' | 'verifying'; bytesDone: number; bytesTotal: number }) => void;
}

interface OpsDeltaFacts {
  format: 'ops';
  fromSha256: string;
  toSha256: string;
  /** Patch file size and digest. */
  length: number;
  sha256: string;
  opCount: number;
  fullCompressedLength: number;
  ratio: number;
  generate: Pick<GeneratedOpsDelta, 'durationMs' | 'workers' | 'peakRssBytes'>;
  durationMs: number;
}

export type VerifiedOpsDeltaResult =
  | (OpsDeltaFacts & { status: 'generated'; path: string; verify: { durationMs: number; peakRssBytes: number } })
  | (OpsDeltaFacts & { status: 'skipped'; reason: string });

export async function generateVerifiedOpsDelta(options: GenerateVerifiedOpsDeltaOptions): Promise<VerifiedOpsDeltaResult> {
  const started = Date.now();
  const maxRatio = options.maxRatio ?? DEFAULT_MAX_DELTA_RATIO;
  return writeAtomically<VerifiedOpsDeltaResult>(options.outPath, async (patchTemp) => {
    const generated = await generateOpsDelta({
      sourcePath: options.oldImagePath,
      targetPath: options.newImagePath,
      outPath: patchTemp,
      scratchDir: options.scratchDir,
      signal: options.signal,
      onProgress: options.onProgress && ((p) => options.onProgress!({ phase: p.phase, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal })),
    });
    checkDigest(`old image ${options.oldImagePath}`, generated.sourceSha256, options.oldSha256);
    checkDigest(`new image ${options.newImagePath}`, generated.targetSha256, options.newSha256);
    const facts: OpsDeltaFacts = {
      format: 'ops',
      fromSha256: generated.sourceSha256,
      toSha256: generated.targetSha256,
      length: generated.length,
      sha256: generated.sha256,
      opCount: generated.opCount,
      fullCompressedLength: options.fullCompressedLength,
      ratio: options.fullCompressedLength > 0 ? generated.length / options.fullCompressedLength : Infinity,
      generate: { durationMs: generated.durationMs, workers: generated.workers, peakRssBytes: generated.peakRssBytes },
      durationMs: 0,
    };
    const reason =
      generated.sourceSha256 === generated.targetSha256
        ? 'old and new images are identical'
        : deltaSkipReason(generated.length, options.fullCompressedLength, maxRatio);
    if (reason) return { keep: false, value: { ...facts, status: 'skipped', reason, durationMs: Date.now() - started } };

    // Never publish an unverified delta: rebuild the target the way a device does, then re-hash
    // the whole output (the per-op digests and the trailer are the patch's own claims).
    const verifyOut = tempPathFor(join(options.scratchDir ?? tmpdir(), 'ops-delta-verify.bin'));
    try {
      const applied = await applyOpsDelta({
        sourcePath: options.oldImagePath,
        patchPath: patchTemp,
        outPath: verifyOut,
        signal: options.signal,
        onProgress: options.onProgress && ((p) => options.onProgress!({ phase: 'verifying', bytesDone: p.targetOffset, bytesTotal: p.targetLength })),
      });
      const rebuilt = (await sha256OfFile(verifyOut)).sha256;
      if (rebuilt !== generated.targetSha256) {
        throw new ArtifactJobError(`ops patch applied to ${options.oldImagePath} gives sha256 ${rebuilt}, expected ${generated.targetSha256}`);
      }
      return {
        keep: true,
        value: { ...facts, status: 'generated', path: options.outPath, verify: { durationMs: applied.durationMs, peakRssBytes: applied.peakRssBytes }, durationMs: Date.now() - started },
      };
    } finally {
      await discard(verifyOut);
    }
  });
}
