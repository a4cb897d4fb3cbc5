// The install journal: one small document saying how far the current install got. Every step is
// recorded (atomically) before the next begins, so an agent restarted after a power cut knows
// whether to start the install over, finish its activation, or leave it to the boot check.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { semverSchema, sha256HexSchema } from '../../schemas/manifest.js';
import { opsApplyCheckpointSchema, type OpsApplyCheckpoint } from '../../deltas/ops/apply.js';
import { fsyncDirectory } from '../../platform/atomic-write.js';
import { slotImageSchema } from './agent-state.js';
import { readJsonFile, writeJsonFile } from '../state/json-file.js';

const FORMAT = 'edge-ota.install-journal.v1';

/**
 * started     manifest verified, target chosen; the target's recorded content is cleared
 * invalidated the target is out of the boot rotation (markBad): safe to overwrite
 * written     the image is in the target and its sha256 verified over the image length
 * activated   the boot state tries the target first (markActive)
 */
export const INSTALL_STEPS = ['started', 'invalidated', 'written', 'activated'] as const;
export type InstallStep = (typeof INSTALL_STEPS)[number];

export const installJournalSchema = z
  .object({
    format: z.literal(FORMAT),
    /** What to install from: the bundle path or URI as given, so a restart can start over. */
    source: z.string().min(1),
    version: semverSchema,
    manifestSha256: sha256HexSchema,
    booted: z.enum(['A', 'B']),
    target: z.enum(['A', 'B']),
    artifact: z.enum(['full', 'delta']),
    image: slotImageSchema,
    step: z.enum(INSTALL_STEPS),
    /** An ops delta being applied into scratch: its last durable checkpoint, so a restart resumes there. */
    opsCheckpoint: opsApplyCheckpointSchema.optional(),
    startedAt: z.string(),
    updatedAt: z.string(),
  })
  .strict();

export type InstallJournal = z.infer<typeof installJournalSchema>;
export type NewInstallJournal = Omit<InstallJournal, 'format' | 'step' | 'startedAt' | 'updatedAt' | 'opsCheckpoint'> & { opsCheckpoint?: OpsApplyCheckpoint };

export function stepReached(journal: InstallJournal, step: InstallStep): boolean {
  return INSTALL_STEPS.indexOf(journal.step) >= INSTALL_STEPS.indexOf(step);
}

export class InstallJournalStore {
  readonly path: string;

  constructor(readonly stateDir: string) {
    this.path = join(stateDir, 'install-journal.json');
  }

  read(): Promise<InstallJournal | undefined> {
    return readJsonFile(this.path, installJournalSchema);
  }

  async begin(fields: NewInstallJournal): Promise<InstallJournal> {
    const now = new Date().toISOString();
    const journal: InstallJournal = { format: FORMAT, ...fields, step: 'started', startedAt: now, updatedAt: now };
    await writeJsonFile(this.path, journal);
    return journal;
  }

  async advance(journal: InstallJournal, step: InstallStep): Promise<InstallJournal> {
    const next = { ...journal, step, updatedAt: new Date().toISOString() };
    await writeJsonFile(this.path, next);
    return next;
  }

  /** Written (atomically, fsync'ed) after applyOpsDelta made its output durable up to the checkpoint. */
  async recordOpsCheckpoint(journal: InstallJournal, checkpoint: OpsApplyCheckpoint): Promise<InstallJournal> {
    const next = { ...journal, opsCheckpoint: checkpoint, updatedAt: new Date().toISOString() };
    await writeJsonFile(this.path, next);
    return next;
  }

  /** The install is over (finished, failed cleanly, or handed to the boot check). */
  async clear(): Promise<void> {
    await rm(this.path, { force: true });
    await fsyncDirectory(this.stateDir);
  }
}
