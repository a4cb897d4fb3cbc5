// Row mapping: SQL rows (snake_case columns) to the store's records. Both engines return
// timestamptz as Date and jsonb parsed; bigint differs (a string from pg, see database.ts).
import type { FailureKind, KeyAlgorithm, Labels, ReportState } from '../schemas/device-api.js';
import type { DeviceState, EnrolledDevice } from './devices.js';
import type { Assignment, AssignmentAction, Rollout, RolloutRecordState } from './rollouts.js';

export interface DeviceRow {
  id: string;
  hardware_id: string;
  channel: string;
  labels: Labels;
  public_key_pem: string;
  key_algorithm: KeyAlgorithm;
  enrolled_at: Date;
  revoked_at: Date | null;
  [key: string]: unknown;
}

export interface StateRow {
  current_version: string | null;
  image_sha256: string | null;
  slot: string | null;
  boot_count: number | null;
  security_version: number | null;
  state: ReportState | null;
  failure_kind: FailureKind | null;
  release_version: string | null;
  last_checkin_at: Date | null;
  last_report_at: Date | null;
  last_counter: number | string;
  [key: string]: unknown;
}

export interface RolloutRow {
  id: string;
  hardware_id: string;
  channel: string;
  release_version: string;
  previous_version: string | null;
  state: RolloutRecordState;
  max_concurrent_installs: number | null;
  exposure_budget?: { count: number } | { percent: number } | null;
  [key: string]: unknown;
}

export interface AssignmentRow {
  rollout_id: string;
  device_id: string;
  ring: string;
  release_version: string;
  action: AssignmentAction;
  reason: string | null;
  previous_version: string | null;
  from_version: string | null;
  rollout_state: RolloutRecordState;
  max_concurrent_installs: number | null;
  [key: string]: unknown;
}

/** `image_sha256` → `imageSha256`, at the type level. */
type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : S;

/** The named columns of a row under their camelCase names, values as they are. */
function camelColumns<R extends object, K extends keyof R & string>(row: R, columns: readonly K[]): { [C in K as CamelCase<C>]: R[C] } {
  const out: Record<string, unknown> = {};
  for (const column of columns) out[camelName(column)] = row[column];
  return out as { [C in K as CamelCase<C>]: R[C] };
}

// Rows are mapped on every request (the device row of each check-in): the few column names are converted once.
const camelNames = new Map<string, string>();
function camelName(column: string): string {
  let name = camelNames.get(column);
  if (name === undefined) camelNames.set(column, (name = column.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())));
  return name;
}

export function asDate(value: unknown): Date {
  return value instanceof Date ? value : new Date(String(value));
}

function asDateOrNull(value: unknown): Date | null {
  return value === null || value === undefined ? null : asDate(value);
}

export function toDevice(r: DeviceRow): EnrolledDevice {
  return {
    ...camelColumns(r, ['id', 'hardware_id', 'channel', 'labels', 'public_key_pem', 'key_algorithm'] as const),
    enrolledAt: asDate(r.enrolled_at),
    revokedAt: asDateOrNull(r.revoked_at),
  };
}

export function toState(r: StateRow): DeviceState {
  return {
    ...camelColumns(r, ['current_version', 'image_sha256', 'slot', 'boot_count', 'security_version', 'state', 'failure_kind', 'release_version'] as const),
    lastCheckinAt: asDateOrNull(r.last_checkin_at),
    lastReportAt: asDateOrNull(r.last_report_at),
    lastCounter: Number(r.last_counter),
  };
}

export function toRollout(r: RolloutRow): Rollout {
  return {
    ...camelColumns(r, ['id', 'hardware_id', 'channel', 'release_version', 'previous_version', 'state'] as const),
    maxConcurrentInstalls: r.max_concurrent_installs ?? null,
    exposureBudget: r.exposure_budget ?? null,
  };
}

export function toAssignment(r: AssignmentRow): Assignment {
  return {
    ...camelColumns(r, ['rollout_id', 'device_id', 'ring', 'release_version', 'action', 'reason', 'previous_version', 'rollout_state'] as const),
    fromVersion: r.from_version ?? null,
    maxConcurrentInstalls: r.max_concurrent_installs ?? null,
  };
}
