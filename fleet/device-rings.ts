// The ring each device was last assigned to by a rollout (any state): read-only, for fleet-wide answers.
import type { Queryable } from './database.js';

export async function latestRings(db: Queryable): Promise<Map<string, string>> {
  const { rows } = await db.query<{ device_id: string; ring: string }>(
    `SELECT DISTINCT ON (device_id) device_id, ring FROM rollout_assignments ORDER BY device_id, assigned_at DESC, rollout_id DESC`,
  );
  return new Map(rows.map((r) => [r.device_id, r.ring]));
}
