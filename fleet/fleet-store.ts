// The fleet store: devices and their keys, what each device last reported, single-use nonces,
// signed health reports, and the rollout assignments the gateway obeys at check-in. The rollout
// orchestrator reads health only as aggregates from here (ringReportCounts), never one message per device.
//
// Replay rules live in SQL so they hold across gateway processes: a nonce is consumed with one
// conditional UPDATE, a counter only moves up with one conditional UPDATE, both in the report's
// transaction.
import { randomBytes } from 'node:crypto';
import { reportStateSchema, type FailureKind, type HealthReport, type KeyAlgorithm, type Labels, type ReportState, type SignedEnvelope } from '../schemas/device-api.js';
import { FAILURE_KINDS } from '../schemas/failure-kinds.js';
import { openDatabase, type FleetDatabase, type Queryable } from './database.js';
import { applyMigrations } from './migrations.js';

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

export type NonceCheck = 'ok' | 'unknown' | 'used' | 'expired';

export type StoreReportOutcome =
  | { kind: 'accepted'; counter: number }
  | { kind: 'nonce-rejected'; reason: Exclude<NonceCheck, 'ok'> }
  | { kind: 'stale-counter'; lastCounter: number };

export interface CheckinState {
  currentVersion: string | null;
  imageSha256: string;
  slot: string;
  securityVersion: number;
}

/** A rollout record's state as the gateway obeys it (the workflow's own states are rollout/types.ts RolloutState). */
export type RolloutRecordState = 'active' | 'halted' | 'rolling-back' | 'finished' | 'aborted';
export type AssignmentAction = 'offer' | 'hold' | 'rollback';

export interface Rollout {
  id: string;
  hardwareId: string;
  channel: string;
  releaseVersion: string;
  previousVersion: string | null;
  state: RolloutRecordState;
  /** Most devices of the rollout installing at once (the gateway holds the rest); null = unlimited. */
  maxConcurrentInstalls: number | null;
}

export interface Assignment {
  rolloutId: string;
  deviceId: string;
  ring: string;
  releaseVersion: string;
  action: AssignmentAction;
  reason: string | null;
  previousVersion: string | null;
  rolloutState: RolloutRecordState;
  maxConcurrentInstalls: number | null;
}

/** Per-ring report counts, the raw aggregate the rollout activity turns into the verdict's RingHealth. */
export interface RingReportCounts {
  rolloutId: string;
  ring: string;
  /** Devices assigned to the ring. */
  assigned: number;
  /** Devices with at least one report about the rollout's release since they were assigned. */
  reporting: number;
  /** By each reporting device's latest report. */
  byState: Record<ReportState, number>;
  /** Failure kind of each reporting device's latest report (failed or rolled-back). */
  byFailureKind: Record<FailureKind, number>;
  /** Devices that reported a failure of that kind at any point since assignment (even if they recovered). */
  everFailedByKind: Record<FailureKind, number>;
}

export interface DeviceSelector {
  hardwareId: string;
  /** Every pair must match (JSON containment). */
  labels?: Labels;
  channel?: string;
  includeRevoked?: boolean;
}

const OPEN_ROLLOUT_STATES = `('active', 'halted', 'rolling-back')`;
/** Report states of a device that started installing a release and has not finished (committed, failed, rolled back). */
const INSTALLING_STATES = `('downloading', 'installed', 'booted')`;

/** Raised inside a transaction to roll it back while returning a typed outcome. */
class Rejected {
  constructor(readonly outcome: StoreReportOutcome) {}
}

export class FleetStore {
  private constructor(readonly db: FleetDatabase) {}

  /** Opens the database named by fleet.databaseUrl and brings its schema up to date. */
  static async open(databaseUrl: string): Promise<FleetStore> {
    const db = await openDatabase(databaseUrl);
    try {
      await applyMigrations(db);
    } catch (error) {
      await db.close();
      throw error;
    }
    return new FleetStore(db);
  }

  close(): Promise<void> {
    return this.db.close();
  }

  // -------------------------------------------------------------------------------------------
  // Devices
  // -------------------------------------------------------------------------------------------

  /** Idempotent for the same id and key; a different key for a taken id is a conflict. */
  async enrollDevice(input: EnrollInput): Promise<EnrollOutcome> {
    return this.db.transaction(async (tx) => {
      const inserted = await tx.query<DeviceRow>(
        `INSERT INTO devices (id, hardware_id, channel, labels, public_key_pem, key_algorithm)
         VALUES ($1, $2, $3, $4::jsonb, $5, $6)
         ON CONFLICT (id) DO NOTHING
         RETURNING *`,
        [input.id, input.hardwareId, input.channel, JSON.stringify(input.labels), input.publicKeyPem, input.keyAlgorithm],
      );
      if (inserted.rows[0]) {
        await tx.query('INSERT INTO device_state (device_id) VALUES ($1)', [input.id]);
        return { kind: 'created', device: toDevice(inserted.rows[0]) };
      }
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

  async getDevice(id: string): Promise<EnrolledDevice | undefined> {
    const { rows } = await this.db.query<DeviceRow>('SELECT * FROM devices WHERE id = $1', [id]);
    return rows[0] ? toDevice(rows[0]) : undefined;
  }

  async getDeviceWithState(id: string): Promise<DeviceWithState | undefined> {
    const { rows } = await this.db.query<DeviceRow & StateRow>(
      'SELECT d.*, s.* FROM devices d JOIN device_state s ON s.device_id = d.id WHERE d.id = $1',
      [id],
    );
    return rows[0] ? { ...toDevice(rows[0]), state: toState(rows[0]) } : undefined;
  }

  /** Revoked devices are refused on every request; their history stays. */
  async revokeDevice(id: string, reason: string): Promise<boolean> {
    const { rowCount } = await this.db.query('UPDATE devices SET revoked_at = now(), revoked_reason = $2 WHERE id = $1 AND revoked_at IS NULL', [id, reason]);
    return rowCount > 0;
  }

  async listDevices(): Promise<DeviceWithState[]> {
    const { rows } = await this.db.query<DeviceRow & StateRow>('SELECT d.*, s.* FROM devices d JOIN device_state s ON s.device_id = d.id ORDER BY d.id');
    return rows.map((r) => ({ ...toDevice(r), state: toState(r) }));
  }

  /** Rollout targets: hardware id, then label containment (GIN index), sorted by id for determinism. */
  async devicesBySelector(selector: DeviceSelector): Promise<EnrolledDevice[]> {
    const { rows } = await this.db.query<DeviceRow>(
      `SELECT * FROM devices
       WHERE hardware_id = $1 AND labels @> $2::jsonb AND ($3::text IS NULL OR channel = $3) AND ($4 OR revoked_at IS NULL)
       ORDER BY id`,
      [selector.hardwareId, JSON.stringify(selector.labels ?? {}), selector.channel ?? null, selector.includeRevoked ?? false],
    );
    return rows.map(toDevice);
  }

  // -------------------------------------------------------------------------------------------
  // Nonces
  // -------------------------------------------------------------------------------------------

  async issueNonce(deviceId: string, ttlSeconds: number): Promise<{ nonce: string; expiresAt: Date }> {
    const nonce = randomBytes(32).toString('base64url');
    const { rows } = await this.db.query<{ expires_at: Date }>(
      `INSERT INTO nonces (nonce, device_id, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3)) RETURNING expires_at`,
      [nonce, deviceId, ttlSeconds],
    );
    return { nonce, expiresAt: asDate(rows[0]!.expires_at) };
  }

  /** Marks the nonce used if it was issued to this device, unused and unexpired; else says why not. */
  async consumeNonce(deviceId: string, nonce: string, q: Queryable = this.db): Promise<NonceCheck> {
    const used = await q.query(
      'UPDATE nonces SET used_at = now() WHERE nonce = $1 AND device_id = $2 AND used_at IS NULL AND expires_at > now() RETURNING nonce',
      [nonce, deviceId],
    );
    if (used.rowCount > 0) return 'ok';
    const { rows } = await q.query<{ used_at: Date | null; expired: boolean }>(
      'SELECT used_at, expires_at <= now() AS expired FROM nonces WHERE nonce = $1 AND device_id = $2',
      [nonce, deviceId],
    );
    if (!rows[0]) return 'unknown';
    return rows[0].used_at ? 'used' : 'expired';
  }

  /** Drops nonces expired for more than graceSeconds; returns how many. */
  async pruneNonces(graceSeconds = 3600): Promise<number> {
    const { rowCount } = await this.db.query('DELETE FROM nonces WHERE expires_at < now() - make_interval(secs => $1)', [graceSeconds]);
    return rowCount;
  }

  // -------------------------------------------------------------------------------------------
  // Check-ins and reports
  // -------------------------------------------------------------------------------------------

  async recordCheckin(deviceId: string, state: CheckinState): Promise<void> {
    await this.db.query(
      `UPDATE device_state SET current_version = $2, image_sha256 = $3, slot = $4,
         security_version = GREATEST(COALESCE(security_version, 0), $5), last_checkin_at = now()
       WHERE device_id = $1`,
      [deviceId, state.currentVersion, state.imageSha256, state.slot, state.securityVersion],
    );
  }

  /**
   * Stores a signature-verified report if its nonce is fresh and its counter is above the last one,
   * all in one transaction: a rejected report changes nothing (its nonce stays unused).
   */
  async storeReport(report: HealthReport, envelope: SignedEnvelope): Promise<StoreReportOutcome> {
    try {
      return await this.db.transaction(async (tx) => {
        const nonce = await this.consumeNonce(report.deviceId, report.nonce, tx);
        if (nonce !== 'ok') throw new Rejected({ kind: 'nonce-rejected', reason: nonce });
        const moved = await tx.query(
          `UPDATE device_state SET last_counter = $2, last_report_at = now(), state = $3, failure_kind = $4, release_version = $5,
             slot = $6, boot_count = $7, image_sha256 = $8,
             current_version = CASE WHEN $3 IN ('booted', 'committed') THEN $5 ELSE current_version END
           WHERE device_id = $1 AND last_counter < $2 RETURNING device_id`,
          [report.deviceId, report.counter, report.state, report.failureKind ?? null, report.releaseVersion, report.slot, report.bootCount, report.imageSha256],
        );
        if (moved.rowCount === 0) {
          const { rows } = await tx.query<{ last_counter: number | string }>('SELECT last_counter FROM device_state WHERE device_id = $1', [report.deviceId]);
          throw new Rejected({ kind: 'stale-counter', lastCounter: Number(rows[0]?.last_counter ?? 0) });
        }
        await tx.query(
          `INSERT INTO reports (device_id, counter, nonce, release_version, image_sha256, slot, boot_count, state, failure_kind, detail,
             metrics, custom, created_at, payload, signature, key_algorithm)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12::jsonb, $13, $14, $15, $16)`,
          [
            report.deviceId,
            report.counter,
            report.nonce,
            report.releaseVersion,
            report.imageSha256,
            report.slot,
            report.bootCount,
            report.state,
            report.failureKind ?? null,
            report.detail ?? null,
            JSON.stringify(report.metrics),
            JSON.stringify(report.custom),
            report.createdAt,
            envelope.payload,
            envelope.signature,
            envelope.algorithm,
          ],
        );
        return { kind: 'accepted', counter: report.counter } as const;
      });
    } catch (error) {
      if (error instanceof Rejected) return error.outcome;
      throw error;
    }
  }

  async reportsOf(deviceId: string, limit = 100): Promise<Array<Pick<HealthReport, 'counter' | 'state' | 'releaseVersion'> & { failureKind: FailureKind | null; receivedAt: Date }>> {
    const { rows } = await this.db.query<{ counter: number | string; state: ReportState; release_version: string; failure_kind: FailureKind | null; received_at: Date }>(
      'SELECT counter, state, release_version, failure_kind, received_at FROM reports WHERE device_id = $1 ORDER BY counter DESC LIMIT $2',
      [deviceId, limit],
    );
    return rows.map((r) => ({ counter: Number(r.counter), state: r.state, releaseVersion: r.release_version, failureKind: r.failure_kind, receivedAt: asDate(r.received_at) }));
  }

  // -------------------------------------------------------------------------------------------
  // Rollouts: what the orchestrator writes and the gateway obeys
  // -------------------------------------------------------------------------------------------

  async createRollout(rollout: Omit<Rollout, 'state' | 'maxConcurrentInstalls'> & { state?: RolloutRecordState; maxConcurrentInstalls?: number | null }): Promise<void> {
    await this.db.query(
      `INSERT INTO rollouts (id, hardware_id, channel, release_version, previous_version, state, max_concurrent_installs) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (id) DO NOTHING`,
      [rollout.id, rollout.hardwareId, rollout.channel, rollout.releaseVersion, rollout.previousVersion, rollout.state ?? 'active', rollout.maxConcurrentInstalls ?? null],
    );
  }

  async getRollout(id: string): Promise<Rollout | undefined> {
    const { rows } = await this.db.query<RolloutRow>('SELECT * FROM rollouts WHERE id = $1', [id]);
    return rows[0] ? toRollout(rows[0]) : undefined;
  }

  async setRolloutState(id: string, state: RolloutRecordState): Promise<void> {
    await this.db.query('UPDATE rollouts SET state = $2, updated_at = now() WHERE id = $1', [id, state]);
  }

  /** Changes the install-slot limit of a rollout (null = unlimited); the next check-in obeys it. */
  async setMaxConcurrentInstalls(id: string, limit: number | null): Promise<void> {
    await this.db.query('UPDATE rollouts SET max_concurrent_installs = $2, updated_at = now() WHERE id = $1', [id, limit]);
  }

  /**
   * Devices of the rollout that are installing its release: their latest report, sent since they
   * were assigned, is about that release and downloading, installed or booted. One query that
   * starts from the partial index of mid-install device states (small), then probes assignments
   * by primary key, so its cost follows the installs in flight and not the rollout's size.
   * exceptDeviceId leaves out the device asking: it may already hold one of the slots.
   */
  async installsInProgress(rolloutId: string, exceptDeviceId?: string): Promise<number> {
    const { rows } = await this.db.query<{ n: number | string }>(
      `SELECT count(*) AS n FROM device_state s
       JOIN rollout_assignments a ON a.rollout_id = $1 AND a.device_id = s.device_id
       WHERE s.release_version = (SELECT release_version FROM rollouts WHERE id = $1)
         AND s.state IN ${INSTALLING_STATES}
         AND a.release_version = s.release_version AND s.last_report_at >= a.assigned_at
         AND ($2::text IS NULL OR s.device_id <> $2)`,
      [rolloutId, exceptDeviceId ?? null],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** Records ring membership; re-running with the same devices changes nothing (deterministic re-runs). */
  async assignDevices(rolloutId: string, assignments: Array<{ deviceId: string; ring: string }>, action: AssignmentAction = 'offer'): Promise<number> {
    if (assignments.length === 0) return 0;
    // One statement for the batch: unnest keeps it parameterised at any size.
    const { rowCount } = await this.db.query(
      `INSERT INTO rollout_assignments (rollout_id, device_id, ring, release_version, action)
       SELECT $1, a.device_id, a.ring, r.release_version, $4
       FROM unnest($2::text[], $3::text[]) AS a(device_id, ring) JOIN rollouts r ON r.id = $1
       ON CONFLICT (rollout_id, device_id) DO NOTHING`,
      [rolloutId, assignments.map((a) => a.deviceId), assignments.map((a) => a.ring), action],
    );
    return rowCount;
  }

  /** Changes what the gateway tells assigned devices (a whole rollout, one ring, or some devices). */
  async setAssignmentAction(rolloutId: string, action: AssignmentAction, scope: { ring?: string; deviceIds?: string[]; reason?: string } = {}): Promise<number> {
    const { rowCount } = await this.db.query(
      `UPDATE rollout_assignments SET action = $2, reason = $5, updated_at = now()
       WHERE rollout_id = $1 AND ($3::text IS NULL OR ring = $3) AND ($4::text[] IS NULL OR device_id = ANY($4::text[]))`,
      [rolloutId, action, scope.ring ?? null, scope.deviceIds ?? null, scope.reason ?? null],
    );
    return rowCount;
  }

  /** The device's assignment in an open rollout (newest first), if any. */
  async openAssignmentFor(deviceId: string): Promise<Assignment | undefined> {
    const { rows } = await this.db.query<AssignmentRow>(
      `SELECT a.*, r.previous_version, r.state AS rollout_state, r.max_concurrent_installs FROM rollout_assignments a JOIN rollouts r ON r.id = a.rollout_id
       WHERE a.device_id = $1 AND r.state IN ${OPEN_ROLLOUT_STATES}
       ORDER BY a.assigned_at DESC LIMIT 1`,
      [deviceId],
    );
    const r = rows[0];
    return r
      ? {
          rolloutId: r.rollout_id, deviceId: r.device_id, ring: r.ring, releaseVersion: r.release_version, action: r.action, reason: r.reason,
          previousVersion: r.previous_version, rolloutState: r.rollout_state, maxConcurrentInstalls: r.max_concurrent_installs ?? null,
        }
      : undefined;
  }

  /**
   * Releases the gateway must not offer freely: those of open rollouts (only assigned devices get
   * them) and of aborted ones (halted for a reason). Finished rollouts release their version to all.
   */
  async gatedVersions(hardwareId: string, channel: string): Promise<Set<string>> {
    const { rows } = await this.db.query<{ release_version: string }>(
      `SELECT DISTINCT release_version FROM rollouts WHERE hardware_id = $1 AND channel = $2 AND state <> 'finished'`,
      [hardwareId, channel],
    );
    return new Set(rows.map((r) => r.release_version));
  }

  /** Another rollout of this hardware that still moves devices (active or halted), if any. */
  async otherOpenRollout(hardwareId: string, exceptId: string): Promise<string | undefined> {
    const { rows } = await this.db.query<{ id: string }>(
      `SELECT id FROM rollouts WHERE hardware_id = $1 AND id <> $2 AND state IN ('active', 'halted') LIMIT 1`,
      [hardwareId, exceptId],
    );
    return rows[0]?.id;
  }

  /** Ends rollbacks still running from earlier rollouts of this hardware: a new rollout owns the devices now. */
  async closeOtherRollbacks(hardwareId: string, exceptId: string): Promise<void> {
    await this.db.query(`UPDATE rollouts SET state = 'aborted', updated_at = now() WHERE hardware_id = $1 AND id <> $2 AND state = 'rolling-back'`, [hardwareId, exceptId]);
  }

  /**
   * Assigned devices that run the rollout's release: all of the rollout (`ring` omitted), or those
   * of one ring that have reported nothing about it since assignment (they already ran it).
   */
  async devicesOnRelease(rolloutId: string, scope: { ring?: string; unreportedOnly?: boolean } = {}): Promise<number> {
    const { rows } = await this.db.query<{ n: number | string }>(
      `SELECT count(*) AS n FROM rollout_assignments a JOIN device_state s ON s.device_id = a.device_id
       WHERE a.rollout_id = $1 AND ($2::text IS NULL OR a.ring = $2) AND s.current_version = a.release_version
         AND (NOT $3 OR NOT EXISTS (SELECT 1 FROM reports r WHERE r.device_id = a.device_id AND r.release_version = a.release_version AND r.received_at >= a.assigned_at))`,
      [rolloutId, scope.ring ?? null, scope.unreportedOnly ?? false],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** Releases a finished rollout has released to the whole target of this hardware and channel. */
  async rolledOutVersions(hardwareId: string, channel: string): Promise<Set<string>> {
    const { rows } = await this.db.query<{ release_version: string }>(
      `SELECT DISTINCT release_version FROM rollouts WHERE hardware_id = $1 AND channel = $2 AND state = 'finished'`,
      [hardwareId, channel],
    );
    return new Set(rows.map((r) => r.release_version));
  }

  /** The aggregate a rollout ring's verdict is computed from. */
  async ringReportCounts(rolloutId: string, ring: string): Promise<RingReportCounts> {
    const params = [rolloutId, ring];
    const ringCte = `ring AS (SELECT device_id, release_version, assigned_at FROM rollout_assignments WHERE rollout_id = $1 AND ring = $2),
      ring_reports AS (
        SELECT r.device_id, r.counter, r.state, r.failure_kind FROM reports r
        JOIN ring a ON a.device_id = r.device_id AND r.release_version = a.release_version AND r.received_at >= a.assigned_at)`;
    const [assigned, latest, ever] = await Promise.all([
      this.db.query<{ n: number | string }>(`WITH ${ringCte} SELECT count(*) AS n FROM ring`, params),
      this.db.query<{ state: ReportState; failure_kind: FailureKind | null; n: number | string }>(
        `WITH ${ringCte}, latest AS (SELECT DISTINCT ON (device_id) device_id, state, failure_kind FROM ring_reports ORDER BY device_id, counter DESC)
         SELECT state, failure_kind, count(*) AS n FROM latest GROUP BY state, failure_kind`,
        params,
      ),
      this.db.query<{ failure_kind: FailureKind; n: number | string }>(
        `WITH ${ringCte} SELECT failure_kind, count(DISTINCT device_id) AS n FROM ring_reports WHERE failure_kind IS NOT NULL GROUP BY failure_kind`,
        params,
      ),
    ]);
    const health: RingReportCounts = {
      rolloutId,
      ring,
      assigned: Number(assigned.rows[0]?.n ?? 0),
      reporting: 0,
      byState: Object.fromEntries(reportStateSchema.options.map((s) => [s, 0])) as Record<ReportState, number>,
      byFailureKind: Object.fromEntries(FAILURE_KINDS.map((k) => [k, 0])) as Record<FailureKind, number>,
      everFailedByKind: Object.fromEntries(FAILURE_KINDS.map((k) => [k, 0])) as Record<FailureKind, number>,
    };
    for (const row of latest.rows) {
      const n = Number(row.n);
      health.reporting += n;
      health.byState[row.state] += n;
      if (row.failure_kind) health.byFailureKind[row.failure_kind] += n;
    }
    for (const row of ever.rows) health.everFailedByKind[row.failure_kind] = Number(row.n);
    return health;
  }
}

// ---------------------------------------------------------------------------------------------
// Row mapping: both engines return timestamptz as Date and jsonb parsed; bigint differs (see database.ts)
// ---------------------------------------------------------------------------------------------

interface DeviceRow {
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

interface StateRow {
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

interface RolloutRow {
  id: string;
  hardware_id: string;
  channel: string;
  release_version: string;
  previous_version: string | null;
  state: RolloutRecordState;
  max_concurrent_installs: number | null;
  [key: string]: unknown;
}

interface AssignmentRow {
  rollout_id: string;
  device_id: string;
  ring: string;
  release_version: string;
  action: AssignmentAction;
  reason: string | null;
  previous_version: string | null;
  rollout_state: RolloutRecordState;
  max_concurrent_installs: number | null;
  [key: string]: unknown;
}

function asDate(value: unknown): Date {
  return value instanceof Date ? value : new Date(String(value));
}

function asDateOrNull(value: unknown): Date | null {
  return value === null || value === undefined ? null : asDate(value);
}

function toDevice(r: DeviceRow): EnrolledDevice {
  return {
    id: r.id,
    hardwareId: r.hardware_id,
    channel: r.channel,
    labels: r.labels,
    publicKeyPem: r.public_key_pem,
    keyAlgorithm: r.key_algorithm,
    enrolledAt: asDate(r.enrolled_at),
    revokedAt: asDateOrNull(r.revoked_at),
  };
}

function toState(r: StateRow): DeviceState {
  return {
    currentVersion: r.current_version,
    imageSha256: r.image_sha256,
    slot: r.slot,
    bootCount: r.boot_count,
    securityVersion: r.security_version,
    state: r.state,
    failureKind: r.failure_kind,
    releaseVersion: r.release_version,
    lastCheckinAt: asDateOrNull(r.last_checkin_at),
    lastReportAt: asDateOrNull(r.last_report_at),
    lastCounter: Number(r.last_counter),
  };
}

function toRollout(r: RolloutRow): Rollout {
  return {
    id: r.id, hardwareId: r.hardware_id, channel: r.channel, releaseVersion: r.release_version, previousVersion: r.previous_version, state: r.state,
    maxConcurrentInstalls: r.max_concurrent_installs ?? null,
  };
}

function samePem(a: string, b: string): boolean {
  const body = (pem: string) => pem.replace(/-----[^-]+-----|\s/g, '');
  return body(a) === body(b);
}
