// <state>/dev/stack.json: what a running `ota dev up` stack offers its clients (the configuration its
// own worker runs with, the operator API and a token for it). `ota dev up` writes it, `ota dev down`
// removes it, and config loading reads it as the layer just above the built-in defaults, so every
// `ota` command follows the running stack while a config file, OTA_* variables or --set still win.
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { defaultStateDir } from '../platform/paths.js';
import { zodIssueFields } from '../platform/zod-issues.js';

/** A state file is a few hundred bytes; anything far larger is not ours. */
const MAX_STATE_BYTES = 64 * 1024;

const stackStateSchema = z
  .object({
    version: z.literal(1),
    stackFile: z.string().min(1),
    writtenAt: z.string().min(1),
    /** Partial configuration tree (temporal, store, fleet), validated again with the rest. */
    config: z.record(z.string(), z.unknown()),
    operatorApi: z
      .object({
        url: z.url(),
        /** An admin API token `ota dev up` created for this stack (the file is 0600). */
        token: z.string().min(1).optional(),
        tokenId: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type StackState = z.infer<typeof stackStateSchema>;

export class StackStateError extends Error {
  override name = 'StackStateError';
}

/** The state directory config loading uses: $OTA_STATE_DIR (against cwd), else the default. */
export function stackStateDir(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  return env.OTA_STATE_DIR ? resolve(cwd, env.OTA_STATE_DIR) : defaultStateDir;
}

export function stackStatePath(stateDir: string): string {
  return join(stateDir, 'dev', 'stack.json');
}

/** The state of the stack running from this state directory; undefined when none was written. */
export function readStackState(stateDir: string): StackState | undefined {
  const file = stackStatePath(stateDir);
  let text: string;
  try {
    // Bounded before it is read: config loading is synchronous, so the size is checked first.
    const size = statSync(file).size;
    if (size > MAX_STATE_BYTES) throw new Error(`${size} bytes, more than ${MAX_STATE_BYTES}`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StackStateError(`${file}: cannot read the dev stack state (${(err as Error).message}); run \`ota dev down\` or remove it`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new StackStateError(`${file}: the dev stack state is not JSON (${(err as Error).message}); run \`ota dev down\` or remove it`);
  }
  const parsed = stackStateSchema.safeParse(data);
  if (!parsed.success) {
    const first = zodIssueFields(parsed.error, { root: '' })[0];
    throw new StackStateError(`${file}: not a dev stack state (${first ? `${first.path || '(root)'}: ${first.message}` : 'invalid'}); run \`ota dev down\` or remove it`);
  }
  return parsed.data;
}

/** Written atomically and owner-only: it holds the stack's admin token and S3 key. */
export function writeStackState(stateDir: string, state: StackState): void {
  const file = stackStatePath(stateDir);
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export function removeStackState(stateDir: string): void {
  rmSync(stackStatePath(stateDir), { force: true });
}
