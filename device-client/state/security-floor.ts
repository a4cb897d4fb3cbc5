// The anti-rollback floor's second copy. The floor itself lives in agent-state.json, in the same
// atomic write as the slot records; this record holds it again (and how many operator-signed
// resets were applied), so that editing or deleting the agent state, or re-provisioning, cannot
// lower it: the floor the agent uses is the higher of the two. Raising writes this record first,
// lowering (only with a signed reset statement, floor-reset.ts) writes it last, so a cut between
// the two writes always leaves the higher floor in force. On hardware the record belongs in
// storage a reset does not clear (TPM NV index, eMMC RPMB): `securityFloorPath` in the config.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../platform/atomic-write.js';
import { readJsonFile } from './json-file.js';

const FORMAT = 'edge-ota.security-floor.v1';

export const securityFloorSchema = z
  .object({
    format: z.literal(FORMAT),
    deviceId: z.string().min(1),
    floor: z.int().min(0),
    /** Reset statements applied so far: the next one must name this number (a statement is used once). */
    resets: z.int().min(0),
    updatedAt: z.string(),
  })
  .strict();

export type SecurityFloorRecord = z.infer<typeof securityFloorSchema>;

export class SecurityFloorStore {
  constructor(readonly path: string) {}

  /** undefined: never written (a device never provisioned, or one whose record was wiped). */
  read(): Promise<SecurityFloorRecord | undefined> {
    return readJsonFile(this.path, securityFloorSchema);
  }

  /** Makes the record hold at least `floor` (never lowers it). */
  async raise(deviceId: string, floor: number): Promise<void> {
    const current = await this.read();
    if (current && current.floor >= floor) return;
    await this.write({ deviceId, floor, resets: current?.resets ?? 0 });
  }

  /** Only after an operator-signed reset statement was verified for this device and `resets`. */
  async lowerAfterReset(deviceId: string, floor: number, resetsBefore: number): Promise<void> {
    await this.write({ deviceId, floor, resets: resetsBefore + 1 });
  }

  private async write(fields: Omit<SecurityFloorRecord, 'format' | 'updatedAt'>): Promise<void> {
    const record = securityFloorSchema.parse({ format: FORMAT, ...fields, updatedAt: new Date().toISOString() });
    // Its folder may be another partition's mount point, not made by provisioning.
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.path, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  }
}
