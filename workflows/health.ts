// A trivial workflow that proves the wiring: client -> server -> worker -> activity and back.
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities, WorkerDescription } from '../activities/index.js';

const { describeWorker } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
});

export interface HealthResult {
  ok: true;
  echo: string;
  workflowId: string;
  taskQueue: string;
  worker: WorkerDescription;
}

export async function healthWorkflow(echo: string): Promise<HealthResult> {
  const info = workflowInfo();
  const worker = await describeWorker();
  return { ok: true, echo, workflowId: info.workflowId, taskQueue: info.taskQueue, worker };
}
