// Builds the worker that runs our workflows and activities on the configured task queue.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { TemporalConfig } from '../schemas/config.js';
import { TemporalUnavailableError } from './client.js';
import { temporalConnectionOptions } from './connection-options.js';

/** workflows/index.ts under vitest, dist/workflows/index.js when compiled. */
export function workflowsPath(): string {
  for (const ext of ['js', 'ts']) {
    const candidate = fileURLToPath(new URL(`../workflows/index.${ext}`, import.meta.url));
    if (existsSync(candidate)) return candidate;
  }
  throw new Error('workflows/index not found next to temporal/worker');
}

export interface WorkerHandle {
  worker: Worker;
  connection: NativeConnection;
}

export async function createWorker(
  cfg: TemporalConfig,
  activities: object,
  extra: Partial<WorkerOptions> = {},
): Promise<WorkerHandle> {
  const options = await temporalConnectionOptions(cfg);
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect(options);
  } catch (err) {
    throw await TemporalUnavailableError.explain(options, err);
  }
  const worker = await Worker.create({
    connection,
    namespace: cfg.namespace,
    taskQueue: cfg.taskQueue,
    workflowsPath: workflowsPath(),
    activities,
    ...extra,
  });
  return { worker, connection };
}
