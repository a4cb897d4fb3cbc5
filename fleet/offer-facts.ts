// What the check-in's offer step reads about a device from the rollout tables, in one statement:
// its open assignment, whether an open rollout could take it late, the gated releases of its
// hardware and channel, those finished rollouts released to it, and its failures in finished
// rollouts. One round trip where openAssignmentFor, rolloutToJoin, gatedVersions,
// rolledOutVersions and finishedRolloutFailures took one each (the same SQL, side by side); a
// check-in reads them in the statement that spends its nonce (offerFactsColumns).
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

/** The device fields the facts are read by. */
export type OfferFactsDevice = { id: string; hardwareId: string; channel: string; labels: Record<string, string> };

/** The SQL placeholders of a statement's id, hardware id, channel and labels (jsonb) parameters. */
export interface OfferFactsPlaceholders {
  id: string;
  hardwareId: string;
  channel: string;
  labels: string;
}

export interface OfferFactsRow {
  assignment: AssignmentRow | null;
  joinable: boolean;
  gated: string[];
  released: string[];
  failures: FailureJson[];
  [column: string]: unknown;
}

/**
 * The facts as the columns of a SELECT list, so that another statement can read them in its own
 * round trip (fleet/reports.ts: with the check-in's nonce spent).
 */
export function offerFactsColumns(p: OfferFactsPlaceholders): string {
  return `(SELECT to_jsonb(x) FROM (
          SELECT a.*, r.previous_version, r.state AS rollout_state, r.max_concurrent_installs FROM rollout_assignments a JOIN rollouts r ON r.id = a.rollout_id
          WHERE a.device_id = ${p.id} AND r.state IN ('active', 'halted', 'rolling-back')
          ORDER BY a.assigned_at DESC LIMIT 1) x) AS assignment,
       EXISTS (
         SELECT 1 FROM rollouts r
         WHERE r.hardware_id = ${p.hardwareId} AND r.channel = ${p.channel} AND r.state IN ('active', 'halted') AND r.target_labels IS NOT NULL
           AND ${p.labels}::jsonb @> r.target_labels
           AND NOT EXISTS (SELECT 1 FROM rollout_assignments a WHERE a.rollout_id = r.id AND a.device_id = ${p.id})) AS joinable,
       ARRAY(SELECT DISTINCT release_version FROM rollouts WHERE hardware_id = ${p.hardwareId} AND channel = ${p.channel} AND state <> 'finished') AS gated,
       ARRAY(SELECT DISTINCT release_version FROM rollouts WHERE hardware_id = ${p.hardwareId} AND channel = ${p.channel} AND state = 'finished'
         AND (target_labels IS NULL OR ${p.labels}::jsonb @> target_labels)) AS released,
       (SELECT COALESCE(jsonb_agg(to_jsonb(f) ORDER BY f.counter DESC), '[]'::jsonb) FROM (
          SELECT a.rollout_id, a.release_version, r.failure_kind, r.state, r.received_at, r.detail, r.counter FROM rollout_assignments a
          JOIN rollouts o ON o.id = a.rollout_id AND o.state = 'finished'
          JOIN reports r ON r.device_id = a.device_id AND r.release_version = a.release_version
            AND r.received_at >= GREATEST(a.assigned_at, COALESCE(a.retry_from, a.assigned_at))
          WHERE a.device_id = ${p.id} AND r.failure_kind IS NOT NULL) f) AS failures`;
}

/** The parameters offerFactsColumns' placeholders stand for, in the order id, hardware id, channel, labels. */
export function offerFactsParams(device: OfferFactsDevice): [string, string, string, string] {
  return [device.id, device.hardwareId, device.channel, JSON.stringify(device.labels)];
}

export function toOfferFacts(row: OfferFactsRow): OfferFacts {
  return {
    assignment: row.assignment ? toAssignment(row.assignment) : undefined,
    joinable: row.joinable,
    gated: new Set(row.gated),
    released: new Set(row.released),
    finishedFailures: row.failures.map((f) => ({ rolloutId: f.rollout_id, releaseVersion: f.release_version, kind: f.failure_kind, state: f.state, receivedAt: asDate(f.received_at), detail: f.detail })),
  };
}

const OFFER_FACTS_SQL = `SELECT ${offerFactsColumns({ id: '$1', hardwareId: '$2', channel: '$3', labels: '$4' })}`;

export async function offerFacts(db: Queryable, device: OfferFactsDevice): Promise<OfferFacts> {
  const { rows } = await db.query<OfferFactsRow>(OFFER_FACTS_SQL, offerFactsParams(device));
  return toOfferFacts(rows[0]!);
}
