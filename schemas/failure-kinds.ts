// The failure kinds a device reports and a rollout policy sets thresholds for: one list, the
// zod enum's. Its own module (zod only) so the workflow bundle can load it without the device API.
import { z } from 'zod';

export const failureKindSchema = z.enum(['download', 'verify', 'install', 'boot', 'health']);
export const FAILURE_KINDS = failureKindSchema.options;
export type FailureKind = z.infer<typeof failureKindSchema>;
