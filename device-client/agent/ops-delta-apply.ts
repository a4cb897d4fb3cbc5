// Applies a staged ops delta (docs/delta-format.md) into the install's scratch folder under the
// install journal: every checkpoint of applyOpsDelta (output fdatasync'ed) is recorded in the
// journal, so an agent restarted after a power cut continues from there instead of from op 0.
// Memory stays bounded by one op, whatever the image size; the slot write that follows re-checks
// the image's sha256 as for any staged image. The native applier (ota-apply-ops, a few MB of RSS
// instead of the Node.js runtime's 40+) runs it when installed, unless deltas.applier says "node";
// both write the same checkpoints, so a resume may switch applier.
import { applyOpsDeltaWith, OpsDeltaError, type OpsApplyCheckpoint } from '../../deltas/ops/index.js';
import { ArtifactMismatchError } from '../../verification/errors.js';
import type { SlotImage } from './agent-state.js';
import { crashPoint } from './crash-points.js';
import type { Device } from './device.js';
import type { InstallJournal } from './install-journal.js';
import type { StagedImage, StagedOpsDelta } from './stage-artifact.js';

export interface OpsApplyRun {
  staged: StagedImage;
  journal: InstallJournal;
  /** The op this run started at: > 0 when it resumed from a checkpoint. */
  resumedFromOp: number;
}

export async function applyStagedOpsDelta(
  device: Device,
  staged: StagedOpsDelta,
  image: SlotImage,
  journal: InstallJournal,
  log: (line: string) => void,
): Promise<OpsApplyRun> {
  let current = journal;
  const run = (resumeFrom: OpsApplyCheckpoint | undefined) =>
    applyOpsDeltaWith(device.config.deltas.applier, {
      sourcePath: staged.basePath,
      patchPath: staged.patchPath,
      outPath: staged.imagePath,
      // The base was checked against the delta's fromSha256 while it was copied from the slot.
      sourceCheck: 'extent',
      resumeFrom,
      checkpointBytes: device.config.deltas.opsCheckpointBytes,
      onCheckpoint: async (checkpoint) => {
        current = await device.journal.recordOpsCheckpoint(current, checkpoint);
        // Only mid-patch: the power-cut harness kills here to prove the resume.
        if (checkpoint.targetOffset < image.length) crashPoint('install:ops-checkpointed');
      },
    });

  const checkpoint = journal.opsCheckpoint;
  if (checkpoint) log(`resuming the ops delta at op ${checkpoint.opIndex} (${checkpoint.targetOffset} of ${image.length} bytes already applied)`);
  let applied;
  try {
    applied = await run(checkpoint);
  } catch (error) {
    // A checkpoint that no longer fits the partial output (e.g. scratch lost): start the patch over.
    if (!(checkpoint && error instanceof OpsDeltaError && error.code === 'bad-resume')) throw error;
    log(`cannot resume the ops delta (${error.message}); applying it from the start`);
    applied = await run(undefined);
  }
  log(
    `ops delta applied by the ${applied.applier === 'native' ? 'native applier (ota-apply-ops)' : 'Node.js applier'}` +
      `${applied.applierReason ? ` (${applied.applierReason})` : ''}, peak RSS ${(applied.peakRssBytes / 1e6).toFixed(1)} MB`,
  );
  if (applied.sha256 !== image.sha256 || applied.length !== image.length) {
    throw new ArtifactMismatchError(`ops delta rebuilds image ${applied.sha256} (${applied.length} bytes), the manifest says ${image.sha256} (${image.length} bytes)`);
  }
  return { staged: { path: staged.imagePath, compression: 'none', kind: 'delta' }, journal: current, resumedFromOp: applied.resumedFromOp };
}
