// Signed heartbeats: what every running device says once per window after commit (reboots, crash
// loops, health checks run again, uptime, custom metrics), on the new release of a rollout or on
// the previous one. Stored with the same replay rules as reports (fresh nonce, rising counter of
// its own), in one transaction; aggregated per release, ring and time window so a rollout can
// compare a ring with its control cohort (devices of the same rollout still on the previous release).
import type { Heartbeat, SignedEnvelope } from '../schemas/device-api.js';
import type { FleetDatabase, Queryable } from './database.js';
import { storeInOrder, type StoreSignedOutcome } from './signed-messages.js';

/** A time window of heartbeats, by the gateway's clock: [since, until). */
export interface HeartbeatWindow {
  since: Date;
  /** Default: now. */
  until?: Date;
}

/** Devices observed in a window (at least one heartbeat) and those with at least one post-commit failure. */
export interface HeartbeatCounts {
  observed: number;
  failures: number;
}

/** One row of the per-release, per-ring aggregate of a rollout's heartbeats in a window. */
export interface HeartbeatAggregate extends HeartbeatCounts {
  /** The release the devices ran when they sent the heartbeats (null: factory image). */
  releaseVersion: string | null;
  ring: string;
  /** Of the failures: devices that reported a crash loop. */
  crashLoops: number;
}

/** Heartbeat windows of a cohort: each heartbeat observes one window; failures are failed (or, with silentAfter, missed) windows. */
export interface CohortWindows {
  observed: number;
  failures: number;
}

/** A ring's release cohort and its control cohort in one window (see docs/rollouts.md). */
export interface RingCohorts {
  /** Windows of ring devices heartbeating on the rollout's release (and, with silentAfter, ring devices that committed it and fell silent). */
  release: CohortWindows;
  /** Windows of devices of the same rollout (any ring) heartbeating on another release that never reported about the release: the control. */
  control: CohortWindows;
  /**
   * Release-cohort devices with a post-commit failure that no install report of theirs counts
   * already (so the ring's failures can add them without counting a device twice).
   */
  postCommitOnly: number;
  /** Of the failures, the devices that fell silent (counted only with silentAfterSeconds). */
  silent: { release: number; control: number };
}

export interface CohortOptions {
  /**
   * A device seen in the window whose newest heartbeat is older than this (at the window's end)
   * is a `silent` failure of its cohort. Absent: silence is not counted.
   */
  silentAfterSeconds?: number | null;
}

/** A post-commit failure: a health check failed in the window, or the device crash-looped. */
export function heartbeatFailed(h: Pick<Heartbeat, 'crashLoop' | 'healthChecks'>): boolean {
  return h.crashLoop || h.healthChecks.failed > 0;
}

/** Stores a signature-verified heartbeat if its nonce is fresh and its counter above the last; a refusal changes nothing. */
export async function storeHeartbeat(db: FleetDatabase, hb: Heartbeat, envelope: SignedEnvelope): Promise<StoreSignedOutcome> {
  return storeInOrder(db, hb, {
    async advanceCounter(tx) {
      const moved = await tx.query(
        `UPDATE device_state SET last_heartbeat_counter = $2 WHERE device_id = $1 AND last_heartbeat_counter < $2 RETURNING device_id`,
        [hb.deviceId, hb.counter],
      );
      return moved.rowCount > 0;
    },
    async lastCounter(tx) {
      const { rows } = await tx.query<{ c: number | string }>('SELECT last_heartbeat_counter AS c FROM device_state WHERE device_id = $1', [hb.deviceId]);
      return Number(rows[0]?.c ?? 0);
    },
    async insert(tx) {
      await tx.query(
        `INSERT INTO heartbeats (device_id, counter, nonce, release_version, image_sha256, slot, boot_count, boots_since_last, crash_loop,
           uptime_seconds, checks_run, checks_failed, failed_checks, metrics, window_seconds, failed, sent_at, payload, signature, key_algorithm)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, $14::jsonb, $15, $16, $17, $18, $19, $20)`,
        [
          hb.deviceId,
          hb.counter,
          hb.nonce,
          hb.releaseVersion,
          hb.imageSha256,
          hb.slot,
          hb.bootCount,
          hb.bootsSinceLast,
          hb.crashLoop,
          hb.uptimeSeconds,
          hb.healthChecks.run,
          hb.healthChecks.failed,
          JSON.stringify(hb.failedChecks),
          JSON.stringify(hb.metrics),
          hb.windowSeconds,
          heartbeatFailed(hb),
          hb.sentAt,
          envelope.payload,
          envelope.signature,
          envelope.algorithm,
        ],
      );
    },
  });
}

export interface StoredHeartbeat {
  counter: number;
  releaseVersion: string | null;
  failed: boolean;
  crashLoop: boolean;
  bootsSinceLast: number;
  metrics: Record<string, number>;
  receivedAt: Date;
}

export async function heartbeatsOf(db: Queryable, deviceId: string, limit: number): Promise<StoredHeartbeat[]> {
  const { rows } = await db.query<{ counter: number | string; release_version: string | null; failed: boolean; crash_loop: boolean; boots_since_last: number; metrics: Record<string, number>; received_at: Date }>(
    'SELECT counter, release_version, failed, crash_loop, boots_since_last, metrics, received_at FROM heartbeats WHERE device_id = $1 ORDER BY counter DESC LIMIT $2',
    [deviceId, limit],
  );
  return rows.map((r) => ({
    counter: Number(r.counter),
    releaseVersion: r.release_version,
    failed: r.failed,
    crashLoop: r.crash_loop,
    bootsSinceLast: Number(r.boots_since_last),
    metrics: r.metrics,
    receivedAt: r.received_at instanceof Date ? r.received_at : new Date(String(r.received_at)),
  }));
}

const WINDOW = `h.received_at >= $2 AND h.received_at < COALESCE($3::timestamptz, now())`;

/** Per release and ring of a rollout: devices heartbeating in the window, and those failing at least once. */
export async function heartbeatAggregates(db: Queryable, rolloutId: string, window: HeartbeatWindow): Promise<HeartbeatAggregate[]> {
  const { rows } = await db.query<{ release_version: string | null; ring: string; observed: number | string; failures: number | string; crash_loops: number | string }>(
    `SELECT h.release_version, a.ring, count(DISTINCT h.device_id) AS observed,
       count(DISTINCT h.device_id) FILTER (WHERE h.failed) AS failures,
       count(DISTINCT h.device_id) FILTER (WHERE h.crash_loop) AS crash_loops
     FROM heartbeats h JOIN rollout_assignments a ON a.rollout_id = $1 AND a.device_id = h.device_id
     WHERE ${WINDOW}
     GROUP BY h.release_version, a.ring ORDER BY a.ring, h.release_version`,
    [rolloutId, window.since, window.until ?? null],
  );
  return rows.map((r) => ({ releaseVersion: r.release_version, ring: r.ring, observed: Number(r.observed), failures: Number(r.failures), crashLoops: Number(r.crash_loops) }));
}

/**
 * A ring's release cohort (its devices heartbeating on the rollout's release) and the rollout's
 * control cohort (its devices heartbeating on any other release that never reported about the
 * release: a device that tried it and fell back was exposed), in one window, counted in heartbeat
 * windows: each heartbeat is one observed window and a failing one a failed window. Windows, not
 * devices, so that rates stay comparable across windows of different length: "failed at least
 * once since the ring opened" grows with the ring's age and would make a later, longer-baking ring
 * look worse than the earlier controls it is compared with. A device that moved to the release
 * inside the window counts in both, each by the heartbeats of that release. With
 * silentAfterSeconds, a device whose newest heartbeat in the window (of any release) is older than
 * that is silent: every window it declared (its last heartbeat's windowSeconds) and did not send
 * up to the window's end is a failed window of its cohort, and a ring device that committed the
 * release and then went silent before its first heartbeat on it joins the release cohort so.
 * `postCommitOnly` and `silent` count devices.
 */
export async function ringCohorts(db: Queryable, rolloutId: string, ring: string, window: HeartbeatWindow, options: CohortOptions = {}): Promise<RingCohorts> {
  const params = [rolloutId, window.since, window.until ?? null, ring, options.silentAfterSeconds ?? null];
  const { rows } = await db.query<Record<'release_observed' | 'release_failures' | 'release_silent' | 'post_commit_only' | 'control_observed' | 'control_failures' | 'control_silent', number | string | null>>(
    `WITH r AS (SELECT release_version FROM rollouts WHERE id = $1),
     a AS (SELECT device_id, ring, assigned_at FROM rollout_assignments WHERE rollout_id = $1),
     hb AS (
       SELECT h.device_id, h.failed, h.received_at, h.window_seconds, a.ring,
         h.release_version IS NOT DISTINCT FROM (SELECT release_version FROM r) AS on_release
       FROM heartbeats h JOIN a ON a.device_id = h.device_id
       WHERE ${WINDOW}),
     -- What each device said about the release since it was assigned (any report: it was exposed).
     reported AS (
       SELECT p.device_id, bool_or(p.failure_kind IS NOT NULL) AS failed, bool_or(p.state = 'committed') AS committed
       FROM reports p JOIN a ON a.device_id = p.device_id
       WHERE p.release_version = (SELECT release_version FROM r) AND p.received_at >= a.assigned_at
       GROUP BY p.device_id),
     per_device AS (
       SELECT device_id, ring, bool_or(on_release) AS on_release, bool_or(NOT on_release) AS off_release,
         count(*) FILTER (WHERE on_release) AS on_windows, count(*) FILTER (WHERE on_release AND failed) AS on_failed,
         count(*) FILTER (WHERE NOT on_release) AS off_windows, count(*) FILTER (WHERE NOT on_release AND failed) AS off_failed,
         max(received_at) AS last_seen, (array_agg(window_seconds ORDER BY received_at DESC))[1] AS last_window_seconds
       FROM hb GROUP BY device_id, ring),
     classified AS (
       SELECT d.*, rp.device_id IS NOT NULL AS exposed, COALESCE(rp.failed, false) AS report_failed,
         COALESCE(rp.committed, false) AS committed,
         ($5::integer IS NOT NULL AND d.last_seen < COALESCE($3::timestamptz, now()) - make_interval(secs => $5::integer)) AS silent
       FROM per_device d LEFT JOIN reported rp ON rp.device_id = d.device_id),
     cohorts AS (
       SELECT *, ring = $4 AND (on_release OR (committed AND silent)) AS in_release,
         NOT exposed AND off_release AS in_control,
         CASE WHEN silent THEN greatest(1, floor(extract(epoch FROM (COALESCE($3::timestamptz, now()) - last_seen)) / greatest(last_window_seconds, 1)))::bigint ELSE 0 END AS missed
       FROM classified)
     SELECT sum(on_windows + missed) FILTER (WHERE in_release) AS release_observed,
       sum(on_failed + missed) FILTER (WHERE in_release) AS release_failures,
       count(*) FILTER (WHERE in_release AND silent) AS release_silent,
       count(*) FILTER (WHERE in_release AND (on_failed > 0 OR silent) AND NOT report_failed) AS post_commit_only,
       sum(off_windows + missed) FILTER (WHERE in_control) AS control_observed,
       sum(off_failed + missed) FILTER (WHERE in_control) AS control_failures,
       count(*) FILTER (WHERE in_control AND silent) AS control_silent
     FROM cohorts`,
    params,
  );
  const row = rows[0];
  const n = (key: keyof NonNullable<typeof row>) => Number(row?.[key] ?? 0);
  return {
    release: { observed: n('release_observed'), failures: n('release_failures') },
    control: { observed: n('control_observed'), failures: n('control_failures') },
    postCommitOnly: n('post_commit_only'),
    silent: { release: n('release_silent'), control: n('control_silent') },
  };
}

/** Drops heartbeats received more than keepSeconds ago (they only feed windows of open rollouts); returns how many. */
export async function pruneHeartbeats(db: Queryable, keepSeconds: number): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM heartbeats WHERE received_at < now() - make_interval(secs => $1)', [keepSeconds]);
  return rowCount;
}
