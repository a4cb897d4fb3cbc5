// Freshness (TUF spec 5.4, Uptane's freeze attack): started by the trust-refresh Temporal Schedule
// (temporal/trust-schedule.ts), it re-signs snapshot and timestamp through one activity. Deterministic:
// no clock, no I/O here; the activity reads the repository and the online key.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { TrustRefreshInput, TrustRefreshResult } from '../activities/trust/refresh.js';

const { refreshTrustMetadata } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '5 seconds', maximumAttempts: 5 },
});

export async function trustRefreshWorkflow(input: TrustRefreshInput): Promise<TrustRefreshResult> {
  return refreshTrustMetadata(input);
}
