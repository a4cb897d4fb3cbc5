// The step every delta format shares for a release: generate the patch into a temp file, apply the
// skip rule, prove the patch by rebuilding the target from the old image, and only then keep it
// (rename it into place). A skipped or failed delta leaves no file behind.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkDigest, type DeltaInputs } from './delta-inputs.js';
import { discard, tempPathFor, writeAtomically } from '../platform/atomic-write.js';
import { DEFAULT_MAX_DELTA_RATIO, deltaSkipReason } from './skip-rule.js';

/** What a format's generator reports about the patch it wrote: the inputs' digests and the patch's size and digest. */
export interface GeneratedPatchFacts {
  fromSha256: string;
  toSha256: string;
  /** Patch file size and digest. */
  length: number;
  sha256: string;
}

export interface DeltaFormatSteps<F extends GeneratedPatchFacts, V> {
  /** Writes the patch to patchPath (a temp path). */
  generate(patchPath: string): Promise<F>;
  /** Rebuilds the target at outPath from the old image and the patch; throws unless it has facts.toSha256. */
  verify(patchPath: string, outPath: string, facts: F): Promise<V>;
  /** Name of the rebuilt target in the scratch dir (made unique, always removed). */
  verifyFileName: string;
}

interface SkipRuleFacts {
  fullCompressedLength: number;
  /** length / fullCompressedLength */
  ratio: number;
  /** Wall time of the whole call. */
  durationMs: number;
}

export type VerifiedDeltaResult<F, V> =
  | (F & SkipRuleFacts & { status: 'generated'; path: string; verify: V })
  | (F & SkipRuleFacts & { status: 'skipped'; reason: string });

export async function generateVerifiedDelta<F extends GeneratedPatchFacts, V>(inputs: DeltaInputs, steps: DeltaFormatSteps<F, V>): Promise<VerifiedDeltaResult<F, V>> {
  const started = Date.now();
  const maxRatio = inputs.maxRatio ?? DEFAULT_MAX_DELTA_RATIO;
  return writeAtomically<VerifiedDeltaResult<F, V>>(inputs.outPath, async (patchTemp) => {
    const generated = await steps.generate(patchTemp);
    checkDigest(`old image ${inputs.oldImagePath}`, generated.fromSha256, inputs.oldSha256);
    checkDigest(`new image ${inputs.newImagePath}`, generated.toSha256, inputs.newSha256);
    const full = inputs.fullCompressedLength;
    const facts = { ...generated, fullCompressedLength: full, ratio: full > 0 ? generated.length / full : Infinity };

    const reason = generated.fromSha256 === generated.toSha256 ? 'old and new images are identical' : deltaSkipReason(generated.length, full, maxRatio);
    if (reason) return { keep: false, value: { ...facts, status: 'skipped', reason, durationMs: Date.now() - started } };

    // Never publish an unverified delta: rebuild the target from old + patch and compare digests.
    const verifyOut = tempPathFor(join(inputs.scratchDir ?? tmpdir(), steps.verifyFileName));
    try {
      const verify = await steps.verify(patchTemp, verifyOut, generated);
      return { keep: true, value: { ...facts, status: 'generated', path: inputs.outPath, verify, durationMs: Date.now() - started } };
    } finally {
      await discard(verifyOut);
    }
  });
}
