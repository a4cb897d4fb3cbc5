// Rollout records and ring assignments: what the rollout orchestrator writes and the gateway
// obeys at check-in (offer, hold, roll back; which releases are gated; install slots in use).
import type { FailureKind, ReportState } from '../schemas/device-api.js';
import type { Queryable } from './database.js';
import { asDate, toAssignment, toRollout, type AssignmentRow, type RolloutRow } from './rows.js';

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
  /** The policy's exposure budget, kept with the ring plan for late joiners; null = none kept. */
  exposureBudget: RingSize | null;
}

/** A policy size as the fleet store keeps it: a count, or a percent of the targeted devices. */
export type RingSize = { count: number } | { percent: number };

export type NewRollout = Omit<Rollout, 'state' | 'maxConcurrentInstalls' | 'exposureBudget'> & { state?: RolloutRecordState; maxConcurrentInstalls?: number | null };

export interface Assignment {
  rolloutId: string;
  deviceId: string;
  ring: string;
  releaseVersion: string;
  action: AssignmentAction;
  reason: string | null;
  previousVersion: string | null;
  /** The release the device ran when assigned (null: unknown): its own rollback target. */
  fromVersion: string | null;
  rolloutState: RolloutRecordState;
  maxConcurrentInstalls: number | null;
}

export interface AssignmentScope {
  ring?: string;
  deviceIds?: string[];
  reason?: string;
}

const OPEN_ROLLOUT_STATES = `('active', 'halted', 'rolling-back')`;
/** Report states of a device that started installing a release and has not finished (committed, failed, rolled back). */
const INSTALLING_STATES = `('downloading', 'installed', 'booted')`;

export async function createRollout(db: Queryable, rollout: NewRollout): Promise<void> {
  await db.query(
    `INSERT INTO rollouts (id, hardware_id, channel, release_version, previous_version, state, max_concurrent_installs) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (id) DO NOTHING`,
    [rollout.id, rollout.hardwareId, rollout.channel, rollout.releaseVersion, rollout.previousVersion, rollout.state ?? 'active', rollout.maxConcurrentInstalls ?? null],
  );
}

export async function getRollout(db: Queryable, id: string): Promise<Rollout | undefined> {
  const { rows } = await db.query<RolloutRow>('SELECT * FROM rollouts WHERE id = $1', [id]);
  return rows[0] ? toRollout(rows[0]) : undefined;
}

export async function setRolloutState(db: Queryable, id: string, state: RolloutRecordState): Promise<void> {
  await db.query('UPDATE rollouts SET state = $2, updated_at = now() WHERE id = $1', [id, state]);
}

/** Changes the install-slot limit of a rollout (null = unlimited); the next check-in obeys it. */
export async function setMaxConcurrentInstalls(db: Queryable, id: string, limit: number | null): Promise<void> {
  await db.query('UPDATE rollouts SET max_concurrent_installs = $2, updated_at = now() WHERE id = $1', [id, limit]);
}

/**
 * Devices of the rollout that are installing its release: their latest report, sent since they
 * were assigned, is about that release and downloading, installed or booted. One query that
 * starts from the partial index of mid-install device states (small), then probes assignments
 * by primary key, so its cost follows the installs in flight and not the rollout's size.
 * exceptDeviceId leaves out the device asking: it may already hold one of the slots. A device
 * offered the release longer than its ring's install deadline ago has timed out (ring health
 * counts it so): it no longer holds a slot, or bricked devices would hold them forever.
 */
export async function installsInProgress(db: Queryable, rolloutId: string, exceptDeviceId?: string): Promise<number> {
  const { rows } = await db.query<{ n: number | string }>(
    `SELECT count(*) AS n FROM device_state s
     JOIN rollout_assignments a ON a.rollout_id = $1 AND a.device_id = s.device_id
     WHERE s.release_version = (SELECT release_version FROM rollouts WHERE id = $1)
       AND s.state IN ${INSTALLING_STATES}
       AND a.release_version = s.release_version AND s.last_report_at >= a.assigned_at
       AND ($2::text IS NULL OR s.device_id <> $2)
       AND NOT EXISTS (SELECT 1 FROM rollout_rings g WHERE g.rollout_id = a.rollout_id AND g.name = a.ring
         AND a.offered_at + g.install_deadline_seconds * interval '1 second' < now())`,
    [rolloutId, exceptDeviceId ?? null],
  );
  return Number(rows[0]?.n ?? 0);
}

/** Records ring membership and what each device runs now (its rollback target); re-running with the same devices changes nothing (deterministic re-runs). */
export async function assignDevices(db: Queryable, rolloutId: string, assignments: Array<{ deviceId: string; ring: string }>, action: AssignmentAction): Promise<number> {
  if (assignments.length === 0) return 0;
  // One statement for the batch: unnest keeps it parameterised at any size.
  const { rowCount } = await db.query(
    `INSERT INTO rollout_assignments (rollout_id, device_id, ring, release_version, action, from_version)
     SELECT $1, a.device_id, a.ring, r.release_version, $4, NULLIF(s.current_version, r.release_version)
     FROM unnest($2::text[], $3::text[]) AS a(device_id, ring) JOIN rollouts r ON r.id = $1
     LEFT JOIN device_state s ON s.device_id = a.device_id
     ON CONFLICT (rollout_id, device_id) DO NOTHING`,
    [rolloutId, assignments.map((a) => a.deviceId), assignments.map((a) => a.ring), action],
  );
  return rowCount;
}

/** Changes what the gateway tells assigned devices (a whole rollout, one ring, or some devices). */
export async function setAssignmentAction(db: Queryable, rolloutId: string, action: AssignmentAction, scope: AssignmentScope): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE rollout_assignments SET action = $2, reason = $5, updated_at = now()
     WHERE rollout_id = $1 AND ($3::text IS NULL OR ring = $3) AND ($4::text[] IS NULL OR device_id = ANY($4::text[]))`,
    [rolloutId, action, scope.ring ?? null, scope.deviceIds ?? null, scope.reason ?? null],
  );
  return rowCount;
}

/** The device's assignment in an open rollout (newest first), if any. */
export async function openAssignmentFor(db: Queryable, deviceId: string): Promise<Assignment | undefined> {
  const { rows } = await db.query<AssignmentRow>(
    `SELECT a.*, r.previous_version, r.state AS rollout_state, r.max_concurrent_installs FROM rollout_assignments a JOIN rollouts r ON r.id = a.rollout_id
     WHERE a.device_id = $1 AND r.state IN ${OPEN_ROLLOUT_STATES}
     ORDER BY a.assigned_at DESC LIMIT 1`,
    [deviceId],
  );
  return rows[0] ? toAssignment(rows[0]) : undefined;
}

/**
 * Releases the gateway must not offer freely: those of open rollouts (only assigned devices get
 * them) and of aborted ones (halted for a reason). Finished rollouts release their version to all.
 */
export function gatedVersions(db: Queryable, hardwareId: string, channel: string): Promise<Set<string>> {
  return versionsOfRollouts(db, hardwareId, channel, `state <> 'finished'`);
}

/**
 * Releases a finished rollout has released to this device: its hardware and channel, and the
 * rollout's target labels are among the device's (rollouts from before targets were kept: all).
 */
export function rolledOutVersions(db: Queryable, device: { hardwareId: string; channel: string; labels: Record<string, string> }): Promise<Set<string>> {
  return versionsOfRollouts(db, device.hardwareId, device.channel, `state = 'finished' AND (target_labels IS NULL OR $3::jsonb @> target_labels)`, [JSON.stringify(device.labels)]);
}

async function versionsOfRollouts(db: Queryable, hardwareId: string, channel: string, condition: string, extra: unknown[] = []): Promise<Set<string>> {
  const { rows } = await db.query<{ release_version: string }>(
    `SELECT DISTINCT release_version FROM rollouts WHERE hardware_id = $1 AND channel = $2 AND ${condition}`,
    [hardwareId, channel, ...extra],
  );
  return new Set(rows.map((r) => r.release_version));
}

/** Another rollout of this hardware that still moves devices (active or halted), if any. */
export async function otherOpenRollout(db: Queryable, hardwareId: string, exceptId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM rollouts WHERE hardware_id = $1 AND id <> $2 AND state IN ('active', 'halted') LIMIT 1`,
    [hardwareId, exceptId],
  );
  return rows[0]?.id;
}

/** Ends rollbacks still running from earlier rollouts of this hardware: a new rollout owns the devices now. */
export async function closeOtherRollbacks(db: Queryable, hardwareId: string, exceptId: string): Promise<void> {
  await db.query(`UPDATE rollouts SET state = 'aborted', updated_at = now() WHERE hardware_id = $1 AND id <> $2 AND state = 'rolling-back'`, [hardwareId, exceptId]);
}

/**
 * Assigned devices that run the rollout's release: all of the rollout (`ring` omitted), or those
 * of one ring that have reported nothing about it since assignment (they already ran it).
 */
export async function devicesOnRelease(db: Queryable, rolloutId: string, scope: { ring?: string; unreportedOnly?: boolean }): Promise<number> {
  const { rows } = await db.query<{ n: number | string }>(
    `SELECT count(*) AS n FROM rollout_assignments a JOIN device_state s ON s.device_id = a.device_id
     WHERE a.rollout_id = $1 AND ($2::text IS NULL OR a.ring = $2) AND s.current_version = a.release_version
       AND (NOT $3 OR NOT EXISTS (SELECT 1 FROM reports r WHERE r.device_id = a.device_id AND r.release_version = a.release_version AND r.received_at >= a.assigned_at))`,
    [rolloutId, scope.ring ?? null, scope.unreportedOnly ?? false],
  );
  return Number(rows[0]?.n ?? 0);
}

/** A ring of a rollout's plan as the fleet store keeps it, for devices that join while the rollout is open. */
export interface RolloutRing {
  name: string;
  position: number;
  /** The policy's cumulative size. */
  size: RingSize;
  labels: Record<string, string>;
  installDeadlineSeconds: number | null;
  openedAt: Date | null;
  /** Devices assigned to the ring now. */
  assigned: number;
}

export type NewRolloutRing = Pick<RolloutRing, 'name' | 'size' | 'labels' | 'installDeadlineSeconds'>;

/** Keeps the rollout's target labels, exposure budget and ring plan (idempotent: a re-run changes nothing). */
export async function recordRingPlan(db: Queryable, rolloutId: string, targetLabels: Record<string, string>, rings: NewRolloutRing[], exposureBudget?: RingSize): Promise<void> {
  await db.query('UPDATE rollouts SET target_labels = $2::jsonb, exposure_budget = $3::jsonb WHERE id = $1 AND target_labels IS NULL', [rolloutId, JSON.stringify(targetLabels), exposureBudget ? JSON.stringify(exposureBudget) : null]);
  for (const [position, ring] of rings.entries()) {
    await db.query(
      `INSERT INTO rollout_rings (rollout_id, name, position, size, labels, install_deadline_seconds) VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6)
       ON CONFLICT (rollout_id, name) DO NOTHING`,
      [rolloutId, ring.name, position, JSON.stringify(ring.size), JSON.stringify(ring.labels), ring.installDeadlineSeconds],
    );
  }
}

/** The ring is open: devices joining it from now on are offered the release at once. */
export async function markRingOpened(db: Queryable, rolloutId: string, ring: string): Promise<void> {
  await db.query('UPDATE rollout_rings SET opened_at = COALESCE(opened_at, now()) WHERE rollout_id = $1 AND name = $2', [rolloutId, ring]);
}

/** The rollout's ring plan in order, with the devices each ring holds now (empty for rollouts from before the plan was kept). */
export async function rolloutRings(db: Queryable, rolloutId: string): Promise<RolloutRing[]> {
  const { rows } = await db.query<{ name: string; position: number; size: RolloutRing['size']; labels: Record<string, string>; install_deadline_seconds: number | null; opened_at: Date | null; assigned: number | string }>(
    `SELECT g.name, g.position, g.size, g.labels, g.install_deadline_seconds, g.opened_at,
       (SELECT count(*) FROM rollout_assignments a WHERE a.rollout_id = g.rollout_id AND a.ring = g.name) AS assigned
     FROM rollout_rings g WHERE g.rollout_id = $1 ORDER BY g.position`,
    [rolloutId],
  );
  return rows.map((r) => ({
    name: r.name,
    position: Number(r.position),
    size: r.size,
    labels: r.labels,
    installDeadlineSeconds: r.install_deadline_seconds === null ? null : Number(r.install_deadline_seconds),
    openedAt: r.opened_at === null ? null : asDate(r.opened_at),
    assigned: Number(r.assigned),
  }));
}

/**
 * An open rollout (active or halted) of the device's hardware and channel whose target it matches
 * and that has not assigned it yet: the rollout it joins late. Only rollouts that kept their plan.
 */
export async function rolloutToJoin(db: Queryable, device: { id: string; hardwareId: string; channel: string; labels: Record<string, string> }): Promise<Rollout | undefined> {
  const { rows } = await db.query<RolloutRow>(
    `SELECT r.* FROM rollouts r
     WHERE r.hardware_id = $1 AND r.channel = $2 AND r.state IN ('active', 'halted') AND r.target_labels IS NOT NULL
       AND $3::jsonb @> r.target_labels
       AND NOT EXISTS (SELECT 1 FROM rollout_assignments a WHERE a.rollout_id = r.id AND a.device_id = $4)
     ORDER BY r.created_at DESC LIMIT 1`,
    [device.hardwareId, device.channel, JSON.stringify(device.labels), device.id],
  );
  return rows[0] ? toRollout(rows[0]) : undefined;
}

/** The gateway offered the release to the device: its install deadline starts now (only the first offer counts). */
export async function markOffered(db: Queryable, rolloutId: string, deviceId: string): Promise<void> {
  await db.query('UPDATE rollout_assignments SET offered_at = now() WHERE rollout_id = $1 AND device_id = $2 AND offered_at IS NULL', [rolloutId, deviceId]);
}

export interface AttemptFailure {
  kind: FailureKind;
  state: ReportState;
  receivedAt: Date;
  detail: string | null;
}

/**
 * The device's failure reports about its assignment's release since it was assigned, or since an
 * operator's retry if later, newest first: what may keep the release from it (gateway/offer-eligibility.ts).
 */
export async function attemptFailures(db: Queryable, rolloutId: string, deviceId: string): Promise<AttemptFailure[]> {
  const { rows } = await db.query<{ failure_kind: FailureKind; state: ReportState; received_at: Date; detail: string | null }>(
    `SELECT r.failure_kind, r.state, r.received_at, r.detail FROM rollout_assignments a
     JOIN reports r ON r.device_id = a.device_id AND r.release_version = a.release_version
       AND r.received_at >= GREATEST(a.assigned_at, COALESCE(a.retry_from, a.assigned_at))
     WHERE a.rollout_id = $1 AND a.device_id = $2 AND r.failure_kind IS NOT NULL
     ORDER BY r.counter DESC`,
    [rolloutId, deviceId],
  );
  return rows.map((r) => ({ kind: r.failure_kind, state: r.state, receivedAt: asDate(r.received_at), detail: r.detail }));
}

/**
 * The device's failure reports about the releases of finished rollouts that assigned it, since
 * its assignment or its last retry: a finished rollout still keeps a release that failed from the
 * device (gateway/offer-eligibility.ts) until `ota fleet retry`.
 */
export async function finishedRolloutFailures(db: Queryable, deviceId: string): Promise<Array<AttemptFailure & { rolloutId: string; releaseVersion: string }>> {
  const { rows } = await db.query<{ rollout_id: string; release_version: string; failure_kind: FailureKind; state: ReportState; received_at: Date; detail: string | null }>(
    `SELECT a.rollout_id, a.release_version, r.failure_kind, r.state, r.received_at, r.detail FROM rollout_assignments a
     JOIN rollouts o ON o.id = a.rollout_id AND o.state = 'finished'
     JOIN reports r ON r.device_id = a.device_id AND r.release_version = a.release_version
       AND r.received_at >= GREATEST(a.assigned_at, COALESCE(a.retry_from, a.assigned_at))
     WHERE a.device_id = $1 AND r.failure_kind IS NOT NULL
     ORDER BY r.counter DESC`,
    [deviceId],
  );
  return rows.map((r) => ({ rolloutId: r.rollout_id, releaseVersion: r.release_version, kind: r.failure_kind, state: r.state, receivedAt: asDate(r.received_at), detail: r.detail }));
}

/**
 * `ota fleet retry`: the device's failed attempts in open or finished rollouts (of one release, or any) no
 * longer keep the release from it, and its install deadline starts again at the next offer.
 * The failures stay in the reports and in ring health. Returns the assignments cleared.
 */
export async function retryDevice(db: Queryable, deviceId: string, releaseVersion?: string): Promise<Array<{ rolloutId: string; releaseVersion: string }>> {
  const { rows } = await db.query<{ rollout_id: string; release_version: string }>(
    `UPDATE rollout_assignments a SET retry_from = now(), offered_at = NULL, updated_at = now()
     FROM rollouts r
     WHERE r.id = a.rollout_id AND a.device_id = $1 AND (r.state IN ${OPEN_ROLLOUT_STATES} OR r.state = 'finished') AND ($2::text IS NULL OR a.release_version = $2)
     RETURNING a.rollout_id, a.release_version`,
    [deviceId, releaseVersion ?? null],
  );
  return rows.map((r) => ({ rolloutId: r.rollout_id, releaseVersion: r.release_version }));
}

/** Devices the rollout's kept target selects now (hardware, channel, labels; not revoked): the fleet its percent sizes resolve against. */
export async function targetedDevices(db: Queryable, rolloutId: string): Promise<number> {
  const { rows } = await db.query<{ n: number | string }>(
    `SELECT count(*) AS n FROM rollouts r JOIN devices d ON d.hardware_id = r.hardware_id AND d.channel = r.channel
     WHERE r.id = $1 AND r.target_labels IS NOT NULL AND d.labels @> r.target_labels AND d.revoked_at IS NULL`,
    [rolloutId],
  );
  return Number(rows[0]?.n ?? 0);
}
