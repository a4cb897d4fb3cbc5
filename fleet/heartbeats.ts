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

/** A ring's release cohort and its control cohort in one window (see docs/rollouts.md). */
export interface RingCohorts {
  /** Ring devices heartbeating on the rollout's release. */
  release: HeartbeatCounts;
  /** Devices of the same rollout (any ring) heartbeating on another release that never reported about the release: the control. */
  control: HeartbeatCounts;
  /**
   * Release-cohort devices with a post-commit failure that no install report of theirs counts
   * already (so the ring's failures can add them without counting a device twice).
   */
  postCommitOnly: number;
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
 * release: a device that tried it and fell back was exposed), in one window. A device that
 * moved to the release inside the window counts in both, each by the heartbeats of that release.
 */
export async function ringCohorts(db: Queryable, rolloutId: string, ring: string, window: HeartbeatWindow): Promise<RingCohorts> {
  const params = [rolloutId, window.since, window.until ?? null, ring];
  const { rows } = await db.query<{ cohort: 'release' | 'control'; observed: number | string; failures: number | string; post_commit_only: number | string }>(
    `WITH r AS (SELECT release_version FROM rollouts WHERE id = $1),
     hb AS (
       SELECT h.device_id, h.failed, a.ring, a.assigned_at,
         CASE WHEN h.release_version IS NOT DISTINCT FROM (SELECT release_version FROM r) THEN 'release' ELSE 'control' END AS cohort
       FROM heartbeats h JOIN rollout_assignments a ON a.rollout_id = $1 AND a.device_id = h.device_id
       WHERE ${WINDOW})
     SELECT cohort, count(DISTINCT device_id) AS observed, count(DISTINCT device_id) FILTER (WHERE failed) AS failures,
       count(DISTINCT device_id) FILTER (WHERE failed AND cohort = 'release' AND NOT EXISTS (
         SELECT 1 FROM reports p WHERE p.device_id = hb.device_id AND p.release_version = (SELECT release_version FROM r)
           AND p.received_at >= hb.assigned_at AND p.failure_kind IS NOT NULL)) AS post_commit_only
     FROM hb WHERE (cohort = 'release' AND ring = $4)
       -- A device that tried the release and fell back is exposed, not a control.
       OR (cohort = 'control' AND NOT EXISTS (SELECT 1 FROM reports p WHERE p.device_id = hb.device_id
             AND p.release_version = (SELECT release_version FROM r) AND p.received_at >= hb.assigned_at))
     GROUP BY cohort`,
    params,
  );
  const out: RingCohorts = { release: { observed: 0, failures: 0 }, control: { observed: 0, failures: 0 }, postCommitOnly: 0 };
  for (const row of rows) {
    out[row.cohort] = { observed: Number(row.observed), failures: Number(row.failures) };
    if (row.cohort === 'release') out.postCommitOnly = Number(row.post_commit_only);
  }
  return out;
}

/** Drops heartbeats received more than keepSeconds ago (they only feed windows of open rollouts); returns how many. */
export async function pruneHeartbeats(db: Queryable, keepSeconds: number): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM heartbeats WHERE received_at < now() - make_interval(secs => $1)', [keepSeconds]);
  return rowCount;
}
