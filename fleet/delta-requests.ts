// On-demand deltas (docs/deltas.md, "On demand"): the gateway asks for a delta by writing a row, the
// worker's dispatch schedule claims pending rows and starts one deltaWorkflow per row, the workflow
// records the outcome here. Gateway and workflows meet only in the fleet store, as for rollouts.
// One row per (hardware, target version, source image, format): concurrent requests share it.
import type { Queryable } from './database.js';
import { asDate } from './rows.js';

export type DeltaRequestState = 'pending' | 'generating' | 'ready' | 'skipped' | 'failed';

export interface DeltaRequestKey {
  hardwareId: string;
  toVersion: string;
  fromSha256: string;
  format: string;
}

export interface NewDeltaRequest extends DeltaRequestKey {
  channel: string;
  fromVersion: string;
  toSha256: string;
  workflowId: string;
}

export interface DeltaRequest extends NewDeltaRequest {
  state: DeltaRequestState;
  /** How many check-ins asked for it (the first and every later one while not ready). */
  requests: number;
  requestedAt: Date;
  claimedAt: Date | null;
  readyAt: Date | null;
  /** Last time a check-in was offered the delta: garbage collection goes by it. */
  lastUsedAt: Date | null;
  /** The stored delta (ready only): sha256 and length of the bytes, store key, TUF target path. */
  sha256: string | null;
  length: number | null;
  location: string | null;
  targetPath: string | null;
  /** Why it was skipped or failed; generation figures when ready. */
  detail: string | null;
  generationMs: number | null;
}

interface DeltaRequestRow {
  hardware_id: string;
  channel: string;
  to_version: string;
  from_version: string;
  from_sha256: string;
  to_sha256: string;
  format: string;
  workflow_id: string;
  state: DeltaRequestState;
  requests: number | string;
  requested_at: Date | string;
  claimed_at: Date | string | null;
  ready_at: Date | string | null;
  last_used_at: Date | string | null;
  sha256: string | null;
  length: number | string | null;
  location: string | null;
  target_path: string | null;
  detail: string | null;
  generation_ms: number | string | null;
}

const optionalDate = (v: Date | string | null) => (v === null ? null : asDate(v));
const optionalNumber = (v: number | string | null) => (v === null ? null : Number(v));

function fromRow(r: DeltaRequestRow): DeltaRequest {
  return {
    hardwareId: r.hardware_id,
    channel: r.channel,
    toVersion: r.to_version,
    fromVersion: r.from_version,
    fromSha256: r.from_sha256,
    toSha256: r.to_sha256,
    format: r.format,
    workflowId: r.workflow_id,
    state: r.state,
    requests: Number(r.requests),
    requestedAt: asDate(r.requested_at),
    claimedAt: optionalDate(r.claimed_at),
    readyAt: optionalDate(r.ready_at),
    lastUsedAt: optionalDate(r.last_used_at),
    sha256: r.sha256,
    length: optionalNumber(r.length),
    location: r.location,
    targetPath: r.target_path,
    detail: r.detail,
    generationMs: optionalNumber(r.generation_ms),
  };
}

const KEY_WHERE = 'hardware_id = $1 AND to_version = $2 AND from_sha256 = $3 AND format = $4';
const keyParams = (k: DeltaRequestKey) => [k.hardwareId, k.toVersion, k.fromSha256, k.format];

export async function getDeltaRequest(db: Queryable, key: DeltaRequestKey): Promise<DeltaRequest | undefined> {
  const { rows } = await db.query<DeltaRequestRow & Record<string, unknown>>(`SELECT * FROM delta_requests WHERE ${KEY_WHERE}`, keyParams(key));
  return rows[0] ? fromRow(rows[0]) : undefined;
}

/**
 * Asks for a delta: inserts a pending row, or counts one more request on the row that is there
 * (whatever its state). One statement, so two gateways asking at once end with one row.
 */
export async function requestDelta(db: Queryable, r: NewDeltaRequest): Promise<DeltaRequest> {
  const { rows } = await db.query<DeltaRequestRow & Record<string, unknown>>(
    `INSERT INTO delta_requests (hardware_id, to_version, from_sha256, format, channel, from_version, to_sha256, workflow_id, state)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending')
     ON CONFLICT (hardware_id, to_version, from_sha256, format) DO UPDATE SET requests = delta_requests.requests + 1
     RETURNING *`,
    [...keyParams(r), r.channel, r.fromVersion, r.toSha256, r.workflowId],
  );
  return fromRow(rows[0]!);
}

/**
 * Rows the dispatcher should start a workflow for: pending ones, and generating ones claimed more
 * than `staleAfterSeconds` ago (a dispatcher that died between claim and start; the workflow id
 * makes a second start of a running one a no-op). Claimed in the same statement.
 */
export async function claimDeltaRequests(db: Queryable, limit: number, staleAfterSeconds: number): Promise<DeltaRequest[]> {
  const { rows } = await db.query<DeltaRequestRow & Record<string, unknown>>(
    `UPDATE delta_requests SET state = 'generating', claimed_at = now()
     WHERE (hardware_id, to_version, from_sha256, format) IN (
       SELECT hardware_id, to_version, from_sha256, format FROM delta_requests
       WHERE state = 'pending' OR (state = 'generating' AND claimed_at < now() - make_interval(secs => $2))
       ORDER BY requested_at LIMIT $1 FOR UPDATE SKIP LOCKED)
     RETURNING *`,
    [limit, staleAfterSeconds],
  );
  return rows.map(fromRow);
}

export type DeltaRequestOutcome =
  | { state: 'ready'; sha256: string; length: number; location: string; targetPath: string; generationMs: number; detail?: string }
  | { state: 'skipped' | 'failed'; detail: string };

export async function recordDeltaOutcome(db: Queryable, key: DeltaRequestKey, outcome: DeltaRequestOutcome): Promise<void> {
  if (outcome.state === 'ready') {
    await db.query(
      `UPDATE delta_requests SET state = 'ready', ready_at = now(), sha256 = $5, length = $6, location = $7, target_path = $8, generation_ms = $9, detail = $10 WHERE ${KEY_WHERE}`,
      [...keyParams(key), outcome.sha256, outcome.length, outcome.location, outcome.targetPath, outcome.generationMs, outcome.detail ?? null],
    );
  } else {
    await db.query(`UPDATE delta_requests SET state = $5, detail = $6 WHERE ${KEY_WHERE}`, [...keyParams(key), outcome.state, outcome.detail]);
  }
}

/** A check-in was offered the ready delta: it counts as used now. */
export async function touchDeltaRequest(db: Queryable, key: DeltaRequestKey, at: Date = new Date()): Promise<void> {
  await db.query(`UPDATE delta_requests SET last_used_at = $5 WHERE ${KEY_WHERE}`, [...keyParams(key), at]);
}

export async function listDeltaRequests(db: Queryable, filter: { state?: DeltaRequestState } = {}): Promise<DeltaRequest[]> {
  const { rows } = filter.state
    ? await db.query<DeltaRequestRow & Record<string, unknown>>('SELECT * FROM delta_requests WHERE state = $1 ORDER BY requested_at', [filter.state])
    : await db.query<DeltaRequestRow & Record<string, unknown>>('SELECT * FROM delta_requests ORDER BY requested_at');
  return rows.map(fromRow);
}

/** Garbage collection removed the delta: the next request starts over. */
export async function removeDeltaRequest(db: Queryable, key: DeltaRequestKey): Promise<void> {
  await db.query(`DELETE FROM delta_requests WHERE ${KEY_WHERE}`, keyParams(key));
}
