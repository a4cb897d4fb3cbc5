// The Temporal Schedule that turns gateways' on-demand delta requests into workflows (docs/deltas.md,
// "On demand"): every `everySeconds` it starts deltaDispatchWorkflow, which claims pending requests in
// the fleet store and starts one deltaWorkflow per image pair. Created when the worker starts with
// `gateway.onDemandDeltas` configured; a second start updates it, never duplicates it.
import { ScheduleOverlapPolicy, type Client, type ScheduleOptionsStartWorkflowAction, type ScheduleSpec } from '@temporalio/client';
import type { TemporalConfig } from '../schemas/config.js';
import { connectClient } from './client.js';
import { upsertSchedule } from './upsert-schedule.js';
import type { DeltaDispatchInput, deltaDispatchWorkflow } from '../workflows/delta.js';

export const DELTA_DISPATCH_SCHEDULE_ID = 'delta-dispatch';

export const DEFAULT_DISPATCH: DeltaDispatchInput = { limit: 20, staleAfterSeconds: 600 };

export async function ensureDeltaDispatchSchedule(client: Client, taskQueue: string, everySeconds: number, input: DeltaDispatchInput = DEFAULT_DISPATCH): Promise<'created' | 'updated'> {
  const spec: ScheduleSpec = { intervals: [{ every: `${Math.max(1, Math.round(everySeconds))}s` }] };
  const action: ScheduleOptionsStartWorkflowAction<typeof deltaDispatchWorkflow> = {
    type: 'startWorkflow',
    workflowType: 'deltaDispatchWorkflow',
    workflowId: `${DELTA_DISPATCH_SCHEDULE_ID}-run`,
    taskQueue,
    args: [input],
  };
  // One dispatch at a time; after an outage one catch-up run claims everything that waited.
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' };
  return upsertSchedule(client, DELTA_DISPATCH_SCHEDULE_ID, spec, action, policies);
}

export async function scheduleDeltaDispatch(cfg: TemporalConfig, everySeconds: number): Promise<'created' | 'updated'> {
  const { client, close } = await connectClient(cfg);
  try {
    return await ensureDeltaDispatchSchedule(client, cfg.taskQueue, everySeconds);
  } finally {
    await close();
  }
}
