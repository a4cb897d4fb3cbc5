// The failure kinds a device reports and a rollout policy sets thresholds for: one list, the
// zod enum's. Its own module (zod only) so the workflow bundle can load it without the device API.
import { z } from 'zod';

// timed-out: never reported by a device; the fleet store counts a device offered a release that
// reported no outcome by its ring's install deadline (fleet/reports.ts ringReportCounts).
export const failureKindSchema = z.enum(['download', 'verify', 'install', 'boot', 'health', 'timed-out']);
export const FAILURE_KINDS = failureKindSchema.options;
export type FailureKind = z.infer<typeof failureKindSchema>;
