// Activities: the only door from workflows to the world (stores, signing, fleet, deltas).
// They are built from the loaded configuration, so workflows never see config or clients.
import type { Config } from '../schemas/config.js';
import { describeWorker } from './health.js';

export type { WorkerDescription } from './health.js';

export function createActivities(_config: Config) {
  return { describeWorker };
}

export type Activities = ReturnType<typeof createActivities>;
