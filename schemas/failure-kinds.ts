// The failure kinds a device reports and a rollout policy sets thresholds for: one list, the
// zod enum's. Its own module (zod only) so the workflow bundle can load it without the device API.
import { z } from 'zod';

// Two kinds no device reports; the fleet store derives them:
// timed-out: offered a release, no outcome by its ring's install deadline (fleet/reports.ts ringReportCounts);
// silent: heartbeated in the ring's window, then stopped for the policy's silentAfter (fleet/heartbeats.ts ringCohorts).
export const failureKindSchema = z.enum(['download', 'verify', 'install', 'boot', 'health', 'timed-out', 'silent']);
export const FAILURE_KINDS = failureKindSchema.options;
export type FailureKind = z.infer<typeof failureKindSchema>;
