// The compiled `ota serve` (gateway + worker + PGlite fleet store in one process) as a child process
// for tests that drive the CLI or kill it: its environment points at a ReleaseHarness's state dir,
// a Temporal server and a task queue, with the rollout fleet's lab-only shared token (the test cannot
// open the embedded fleet store `ota serve` holds, so it cannot preauthorize there).
import { spawn, type ChildProcess } from 'node:child_process';
import { waitForHttp } from '../../platform/wait-for-http.js';
import { OTA_BIN } from './dist.js';
import type { ReleaseHarness } from './release-harness.js';
import { ENROLLMENT_TOKEN } from './rollout-fleet.js';

/** The environment `ota serve` and `ota` commands get: the harness's state, Temporal and queue. */
export function otaServeEnv(releases: ReleaseHarness, temporalAddress: string, taskQueue: string): NodeJS.ProcessEnv {
  return { ...process.env, OTA_STATE_DIR: releases.stateDir, OTA_TEMPORAL_ADDRESS: temporalAddress, OTA_TASK_QUEUE: taskQueue, OTA_ENROLLMENT_TOKEN: ENROLLMENT_TOKEN };
}

/**
 * Spawns `ota serve --port <port> <flags>` and waits until its /healthz answers: up to 100 s, since
 * the worker bundles its workflows first, which takes long on a loaded 2-core machine. If the
 * process exits first, the error carries the end of its stderr.
 */
export async function spawnOtaServe(port: number, env: NodeJS.ProcessEnv, flags: string[]): Promise<ChildProcess> {
  const serve = spawn(process.execPath, [OTA_BIN, 'serve', '--port', String(port), '--insecure-shared-token', ...flags], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  serve.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  const exited = new Promise<never>((_, reject) =>
    serve.once('exit', (code, signal) => reject(new Error(`ota serve exited (${signal ?? `code ${code}`}) before /healthz answered: ${stderr.trim()}`))),
  );
  try {
    await Promise.race([waitForHttp(`http://127.0.0.1:${port}/healthz`, 100_000), exited]);
  } catch (error) {
    serve.kill('SIGKILL');
    throw new Error(`${(error as Error).message}${stderr && !(error as Error).message.includes(stderr.trim()) ? `; stderr: ${stderr.trim()}` : ''}`);
  }
  exited.catch(() => undefined);
  return serve;
}
