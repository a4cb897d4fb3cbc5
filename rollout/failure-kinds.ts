// The failure kinds a device reports and a policy sets thresholds for.
export const FAILURE_KINDS = ['download', 'verify', 'install', 'boot', 'health'] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];
