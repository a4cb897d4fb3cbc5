// Devices: enrolment with their keys, revocation, lookups, and the selector rollouts target.
import type { FailureKind, KeyAlgorithm, Labels, ReportState } from '../schemas/device-api.js';
import type { FleetDatabase, Queryable } from './database.js';
import { toDevice, toState, type DeviceRow, type StateRow } from './rows.js';

export interface EnrolledDevice {
  id: string;
  hardwareId: string;
  channel: string;
  labels: Labels;
  publicKeyPem: string;
  keyAlgorithm: KeyAlgorithm;
  enrolledAt: Date;
  revokedAt: Date | null;
}

export interface DeviceState {
  currentVersion: string | null;
  imageSha256: string | null;
  slot: string | null;
  bootCount: number | null;
  securityVersion: number | null;
  /** State and failure kind of the latest report. */
  state: ReportState | null;
  failureKind: FailureKind | null;
  releaseVersion: string | null;
  lastCheckinAt: Date | null;
  lastReportAt: Date | null;
  lastCounter: number;
}

export interface DeviceWithState extends EnrolledDevice {
  state: DeviceState;
}

/** A device as enrolment gives it; the store sets when it was enrolled (and revoked). */
export type EnrollInput = Omit<EnrolledDevice, 'enrolledAt' | 'revokedAt'>;

export type EnrollOutcome =
  | { kind: 'created' | 'existing'; device: EnrolledDevice }
  /** The id is taken by another key, or the device was revoked (re-enrolment needs an operator). */
  | { kind: 'conflict' | 'revoked'; device: EnrolledDevice };

export interface DeviceSelector {
  hardwareId: string;
  /** Every pair must match (JSON containment). */
  labels?: Labels;
  channel?: string;
  includeRevoked?: boolean;
}

const WITH_STATE = 'SELECT d.*, s.* FROM devices d JOIN device_state s ON s.device_id = d.id';

/** Idempotent for the same id and key; a different key for a taken id is a conflict. */
export function enrollDevice(db: FleetDatabase, input: EnrollInput): Promise<EnrollOutcome> {
  return db.transaction(async (tx) => {
    const created = await insertDevice(tx, input);
    if (created) return { kind: 'created', device: created };
    const device = toDevice((await tx.query<DeviceRow>('SELECT * FROM devices WHERE id = $1', [input.id])).rows[0]!);
    if (device.revokedAt) return { kind: 'revoked', device };
    const sameKey = samePem(device.publicKeyPem, input.publicKeyPem) && device.keyAlgorithm === input.keyAlgorithm;
    if (!sameKey || device.hardwareId !== input.hardwareId) return { kind: 'conflict', device };
    // A retried enrolment may carry updated labels or channel: the latest wins.
    const updated = await tx.query<DeviceRow>('UPDATE devices SET labels = $2::jsonb, channel = $3 WHERE id = $1 RETURNING *', [
      input.id,
      JSON.stringify(input.labels),
      input.channel,
    ]);
    return { kind: 'existing', device: toDevice(updated.rows[0]!) };
  });
}

/** Inserts the device and its empty state row; undefined when the id is taken (nothing written). */
export async function insertDevice(tx: Queryable, input: EnrollInput): Promise<EnrolledDevice | undefined> {
  const inserted = await tx.query<DeviceRow>(
    `INSERT INTO devices (id, hardware_id, channel, labels, public_key_pem, key_algorithm)
     VALUES ($1, $2, $3, $4::jsonb, $5, $6)
     ON CONFLICT (id) DO NOTHING
     RETURNING *`,
    [input.id, input.hardwareId, input.channel, JSON.stringify(input.labels), input.publicKeyPem, input.keyAlgorithm],
  );
  if (!inserted.rows[0]) return undefined;
  await tx.query('INSERT INTO device_state (device_id) VALUES ($1)', [input.id]);
  return toDevice(inserted.rows[0]);
}

export async function getDevice(db: Queryable, id: string): Promise<EnrolledDevice | undefined> {
  const { rows } = await db.query<DeviceRow>('SELECT * FROM devices WHERE id = $1', [id]);
  return rows[0] ? toDevice(rows[0]) : undefined;
}

export async function getDeviceWithState(db: Queryable, id: string): Promise<DeviceWithState | undefined> {
  const { rows } = await db.query<DeviceRow & StateRow>(`${WITH_STATE} WHERE d.id = $1`, [id]);
  return rows[0] ? withState(rows[0]) : undefined;
}

/** Revoked devices are refused on every request; their history stays. */
export async function revokeDevice(db: Queryable, id: string, reason: string): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE devices SET revoked_at = now(), revoked_reason = $2 WHERE id = $1 AND revoked_at IS NULL', [id, reason]);
  return rowCount > 0;
}

export async function listDevices(db: Queryable): Promise<DeviceWithState[]> {
  const { rows } = await db.query<DeviceRow & StateRow>(`${WITH_STATE} ORDER BY d.id`);
  return rows.map(withState);
}

/** Rollout targets: hardware id, then label containment (GIN index), sorted by id for determinism. */
export async function devicesBySelector(db: Queryable, selector: DeviceSelector): Promise<EnrolledDevice[]> {
  const { rows } = await db.query<DeviceRow>(
    `SELECT * FROM devices
     WHERE hardware_id = $1 AND labels @> $2::jsonb AND ($3::text IS NULL OR channel = $3) AND ($4 OR revoked_at IS NULL)
     ORDER BY id`,
    [selector.hardwareId, JSON.stringify(selector.labels ?? {}), selector.channel ?? null, selector.includeRevoked ?? false],
  );
  return rows.map(toDevice);
}

/** What the devices a selector picks run now (their last check-in or report), with how many run each. */
export async function runningVersions(db: Queryable, selector: DeviceSelector): Promise<Array<{ version: string | null; devices: number }>> {
  const { rows } = await db.query<{ version: string | null; n: number | string }>(
    `SELECT s.current_version AS version, count(*) AS n FROM devices d JOIN device_state s ON s.device_id = d.id
     WHERE d.hardware_id = $1 AND d.labels @> $2::jsonb AND ($3::text IS NULL OR d.channel = $3) AND ($4 OR d.revoked_at IS NULL)
     GROUP BY s.current_version`,
    [selector.hardwareId, JSON.stringify(selector.labels ?? {}), selector.channel ?? null, selector.includeRevoked ?? false],
  );
  return rows.map((r) => ({ version: r.version, devices: Number(r.n) }));
}

function withState(row: DeviceRow & StateRow): DeviceWithState {
  return { ...toDevice(row), state: toState(row) };
}

export function samePem(a: string, b: string): boolean {
  const body = (pem: string) => pem.replace(/-----[^-]+-----|\s/g, '');
  return body(a) === body(b);
}
