// Small JSON documents the agent keeps in its state dir, read strictly (zod) and replaced
// atomically (temp, fsync, rename, fsync dir) so a power cut leaves the old or the new document.
import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { CodedError } from '../../platform/coded-error.js';
import { describeZodIssues } from '../../platform/zod-issues.js';
import { writeFileAtomic } from '../../platform/atomic-write.js';

/**
 * NOT_PROVISIONED      no agent state and no security floor record: a device never provisioned
 * AGENT_STATE_MISSING  no agent state, but the floor record says the device was provisioned (a wipe)
 * AGENT_STATE_CORRUPT  a state document that is not JSON or not of its schema (never read as "empty")
 */
export type AgentStateErrorCode = 'NOT_PROVISIONED' | 'AGENT_STATE_MISSING' | 'AGENT_STATE_CORRUPT';

export class AgentStateError extends CodedError<AgentStateErrorCode> {}

/** The parsed document, or undefined when the file does not exist. */
export async function readJsonFile<S extends z.ZodType>(path: string, schema: S): Promise<z.infer<S> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new AgentStateError('AGENT_STATE_CORRUPT', `${path} is not JSON: ${(error as Error).message}`);
  }
  const result = schema.safeParse(doc);
  if (!result.success) {
    throw new AgentStateError('AGENT_STATE_CORRUPT', `${path}: ${describeZodIssues(result.error)}`);
  }
  return result.data;
}

export async function writeJsonFile(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
}
