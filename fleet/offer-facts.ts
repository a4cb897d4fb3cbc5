// What the check-in's offer step reads about a device from the rollout tables, in one statement:
// its open assignment, whether an open rollout could take it late, the gated releases of its
// hardware and channel, those finished rollouts released to it, and its failures in finished
// rollouts. One round trip where openAssignmentFor, rolloutToJoin, gatedVersions,
// rolledOutVersions and finishedRolloutFailures took one each (the same SQL, side by side).
import type { FailureKind, ReportState } from '../schemas/device-api.js';
import type { Queryable } from './database.js';
import { asDate, toAssignment, type AssignmentRow } from './rows.js';
import type { Assignment, AttemptFailure } from './rollouts.js';

export interface OfferFacts {
  assignment: Assignment | undefined;
  /** An active or halted rollout targets the device and has not assigned it: it may join late (rolloutToJoin has the details). */
  joinable: boolean;
  /** As gatedVersions: releases of rollouts not finished. */
  gated: Set<string>;
  /** As rolledOutVersions: releases finished rollouts released to this device. */
  released: Set<string>;
  /** As finishedRolloutFailures, newest report first. */
  finishedFailures: Array<AttemptFailure & { rolloutId: string; releaseVersion: string }>;
}

interface FailureJson {
  rollout_id: string;
  release_version: string;
  failure_kind: FailureKind;
  state: ReportState;
  received_at: string;
  detail: string | null;
}

export async function offerFacts(db: Queryable, device: { id: string; hardwareId: string; channel: string; labels: Record<string, string> }): Promise<OfferFacts> {
  const { rows } = await db.query<{ assignment: AssignmentRow | null; joinable: boolean; gated: string[]; released: string[]; failures: FailureJson[] }>(
    `SELECT
       (SELECT to_jsonb(x) FROM (
          SELECT a.*, r.previous_version, r.state AS rollout_state, r.max_concurrent_installs FROM rollout_assignments a JOIN rollouts r ON r.id = a.rollout_id
          WHERE a.device_id = $1 AND r.state IN ('active', 'halted', 'rolling-back')
          ORDER BY a.assigned_at DESC LIMIT 1) x) AS assignment,
       EXISTS (
         SELECT 1 FROM rollouts r
         WHERE r.hardware_id = $2 AND r.channel = $3 AND r.state IN ('active', 'halted') AND r.target_labels IS NOT NULL
           AND $4::jsonb @> r.target_labels
           AND NOT EXISTS (SELECT 1 FROM rollout_assignments a WHERE a.rollout_id = r.id AND a.device_id = $1)) AS joinable,
       ARRAY(SELECT DISTINCT release_version FROM rollouts WHERE hardware_id = $2 AND channel = $3 AND state <> 'finished') AS gated,
       ARRAY(SELECT DISTINCT release_version FROM rollouts WHERE hardware_id = $2 AND channel = $3 AND state = 'finished'
         AND (target_labels IS NULL OR $4::jsonb @> target_labels)) AS released,
       (SELECT COALESCE(jsonb_agg(to_jsonb(f) ORDER BY f.counter DESC), '[]'::jsonb) FROM (
          SELECT a.rollout_id, a.release_version, r.failure_kind, r.state, r.received_at, r.detail, r.counter FROM rollout_assignments a
          JOIN rollouts o ON o.id = a.rollout_id AND o.state = 'finished'
          JOIN reports r ON r.device_id = a.device_id AND r.release_version = a.release_version
            AND r.received_at >= GREATEST(a.assigned_at, COALESCE(a.retry_from, a.assigned_at))
          WHERE a.device_id = $1 AND r.failure_kind IS NOT NULL) f) AS failures`,
    [device.id, device.hardwareId, device.channel, JSON.stringify(device.labels)],
  );
  const row = rows[0]!;
  return {
    assignment: row.assignment ? toAssignment(row.assignment) : undefined,
    joinable: row.joinable,
    gated: new Set(row.gated),
    released: new Set(row.released),
    finishedFailures: row.failures.map((f) => ({ rolloutId: f.rollout_id, releaseVersion: f.release_version, kind: f.failure_kind, state: f.state, receivedAt: asDate(f.received_at), detail: f.detail })),
  };
}
