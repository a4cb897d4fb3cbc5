// The last gateway check-in as the device saw it (stateDir/last-checkin.json), for `status`: when,
// what the gateway said (none, update, hold with its reason, rollback), and what the agent did.
import { join } from 'node:path';
import { z } from 'zod';
import { readJsonFile, writeJsonFile } from '../state/json-file.js';

export const checkinRecordSchema = z
  .object({
    at: z.string(),
    gatewayUrl: z.string(),
    /** offline: the gateway could not be reached; refused: it answered with an error. */
    result: z.enum(['ok', 'offline', 'refused']),
    action: z.enum(['none', 'update', 'hold', 'rollback']).optional(),
    version: z.string().optional(),
    rolloutId: z.string().optional(),
    reason: z.string().optional(),
    outcome: z.string(),
    pollAfterSeconds: z.number().optional(),
  })
  .strict();

export type CheckinRecord = z.infer<typeof checkinRecordSchema>;

const path = (stateDir: string) => join(stateDir, 'last-checkin.json');

export async function readCheckinRecord(stateDir: string): Promise<CheckinRecord | undefined> {
  return readJsonFile(path(stateDir), checkinRecordSchema).catch(() => undefined);
}

export async function writeCheckinRecord(stateDir: string, record: CheckinRecord): Promise<void> {
  await writeJsonFile(path(stateDir), checkinRecordSchema.parse(record));
}
