// The Temporal Schedule that keeps the fleet's TUF metadata fresh (docs/trust.md, "Freshness"): every
// `refreshEveryMinutes` it starts trustRefreshWorkflow, which re-signs snapshot and timestamp valid for
// `expiryHours`. Created when the worker (`ota worker`, `ota serve`) starts, idempotently: an existing
// schedule is updated to the configured interval and expiry, never duplicated.
import { ScheduleOverlapPolicy, type Client, type ScheduleOptionsStartWorkflowAction, type ScheduleSpec } from '@temporalio/client';
import type { TrustRefreshInput } from '../activities/trust/refresh.js';
import type { TemporalConfig } from '../schemas/config.js';
import { connectClient } from './client.js';
import { upsertSchedule } from './upsert-schedule.js';
import type { trustRefreshWorkflow } from '../workflows/trust-refresh.js';

export const TRUST_REFRESH_SCHEDULE_ID = 'tuf-refresh';

export interface FreshnessSettings {
  refreshEveryMinutes: number;
  expiryHours: number;
}

export const DEFAULT_FRESHNESS: FreshnessSettings = { refreshEveryMinutes: 60, expiryHours: 24 };

export type ScheduleOutcome = 'created' | 'updated';

export async function ensureTrustRefreshSchedule(client: Client, taskQueue: string, settings: FreshnessSettings = DEFAULT_FRESHNESS): Promise<ScheduleOutcome> {
  const spec: ScheduleSpec = { intervals: [{ every: `${Math.round(settings.refreshEveryMinutes * 60)}s` }] };
  const input: TrustRefreshInput = { expiryHours: settings.expiryHours };
  const action: ScheduleOptionsStartWorkflowAction<typeof trustRefreshWorkflow> = {
    type: 'startWorkflow',
    workflowType: 'trustRefreshWorkflow',
    workflowId: `${TRUST_REFRESH_SCHEDULE_ID}-run`,
    taskQueue,
    args: [input],
  };
  // One refresh at a time; after an outage, one catch-up run is enough (a newer timestamp supersedes).
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' };
  return upsertSchedule(client, TRUST_REFRESH_SCHEDULE_ID, spec, action, policies);
}

/** Connects, makes sure the schedule is there as configured, disconnects (what the worker does at start). */
export async function scheduleTrustRefresh(cfg: TemporalConfig, settings: FreshnessSettings = DEFAULT_FRESHNESS): Promise<ScheduleOutcome> {
  const { client, close } = await connectClient(cfg);
  try {
    return await ensureTrustRefreshSchedule(client, cfg.taskQueue, settings);
  } finally {
    await close();
  }
}
