// Read-only counts for the worker's Prometheus gauges: rollouts by state, and the rings of open rollouts.
import type { Queryable } from './database.js';

export async function rolloutCountsByState(db: Queryable): Promise<Array<{ state: string; count: number }>> {
  const { rows } = await db.query<{ state: string; n: number | string }>('SELECT state, count(*) AS n FROM rollouts GROUP BY state ORDER BY state');
  return rows.map((r) => ({ state: r.state, count: Number(r.n) }));
}

/** The rings of rollouts that still move devices (active, halted, rolling back), with their release. */
export async function openRolloutRings(db: Queryable): Promise<Array<{ rolloutId: string; ring: string; hardwareId: string; releaseVersion: string }>> {
  const { rows } = await db.query<{ rollout_id: string; ring: string; hardware_id: string; release_version: string }>(
    `SELECT DISTINCT a.rollout_id, a.ring, r.hardware_id, r.release_version FROM rollout_assignments a JOIN rollouts r ON r.id = a.rollout_id
     WHERE r.state IN ('active', 'halted', 'rolling-back') ORDER BY a.rollout_id, a.ring`,
  );
  return rows.map((r) => ({ rolloutId: r.rollout_id, ring: r.ring, hardwareId: r.hardware_id, releaseVersion: r.release_version }));
}
