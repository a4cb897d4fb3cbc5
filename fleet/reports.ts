// Check-ins and signed health reports: what each device last said, with the replay rules (fresh
// nonce, rising counter) applied in the report's own transaction; and the per-ring aggregate of
// those reports that a rollout's verdict is computed from (never one message per device).
import { randomBytes } from 'node:crypto';
import { frozenSchema, reportStateSchema, type FailureKind, type Frozen, type HealthReport, type ReportState, type SignedEnvelope } from '../schemas/device-api.js';
import { FAILURE_KINDS } from '../schemas/failure-kinds.js';
import type { FleetDatabase, Queryable } from './database.js';
import { asDate } from './rows.js';
import { offerFactsColumns, offerFactsParams, toOfferFacts, type OfferFacts, type OfferFactsDevice, type OfferFactsRow } from './offer-facts.js';
import { nonceRefusal, type NonceCheck } from './nonces.js';
import { MAX_COUNTER_STEP, type StoreSignedOutcome } from './signed-messages.js';

export interface CheckinState {
  currentVersion: string | null;
  imageSha256: string;
  slot: string;
  securityVersion: number;
}

export type StoredReport = Pick<HealthReport, 'counter' | 'state' | 'releaseVersion'> & { failureKind: FailureKind | null; receivedAt: Date; frozen?: Frozen };

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
  /**
   * Each device once, by its attempts: failed (reported a failure at any point since assignment,
   * even if a retry then committed), committed (its latest report is committed and it never
   * failed), timed out (offered the release longer than the install deadline ago with no outcome
   * reported; 0 without a deadline). What the ring verdict counts.
   */
  outcomes: { failed: number; committed: number; timedOut: number };
}

export interface RingCountOptions {
  /** Seconds after its first offer by which a device must report an outcome (committed, failed, rolled back); absent: none. */
  installDeadlineSeconds?: number | null;
}

export async function recordCheckin(db: Queryable, deviceId: string, state: CheckinState): Promise<void> {
  await db.query(
    `UPDATE device_state SET current_version = $2, image_sha256 = $3, slot = $4,
       security_version = GREATEST(COALESCE(security_version, 0), $5), last_checkin_at = now()
     WHERE device_id = $1`,
    [deviceId, state.currentVersion, state.imageSha256, state.slot, state.securityVersion],
  );
}

/**
 * A check-in's nonce spent and what the device said recorded, in one statement: the state row moves
 * only if the nonce was issued to this device, unused and unexpired (the same conditional UPDATE as
 * consumeNonce, so single use holds across gateway processes); otherwise nothing changes and the
 * answer says why.
 */
export async function spendNonceAndRecordCheckin(db: Queryable, deviceId: string, nonce: string, state: CheckinState): Promise<NonceCheck> {
  return (await spendNonceRecordCheckinAndIssueNext(db, deviceId, nonce, state)).check;
}

export type CheckinSpend = { check: 'ok'; next?: { nonce: string; expiresAt: Date }; facts?: OfferFacts } | { check: Exclude<NonceCheck, 'ok'> };

const SPEND_CHECKIN_SQL = `WITH spent AS (
       UPDATE nonces SET used_at = now() WHERE nonce = $6 AND device_id = $1 AND used_at IS NULL AND expires_at > now() RETURNING device_id
     ),
     moved AS (
       UPDATE device_state s SET current_version = $2, image_sha256 = $3, slot = $4,
         security_version = GREATEST(COALESCE(s.security_version, 0), $5), last_checkin_at = now()
       FROM spent WHERE s.device_id = spent.device_id
       RETURNING s.device_id
     ),
     issued AS (
       INSERT INTO nonces (nonce, device_id, expires_at)
       SELECT $7::text, device_id, now() + make_interval(secs => $8::int) FROM moved WHERE $7::text IS NOT NULL
       RETURNING expires_at
     )
     SELECT EXISTS (SELECT 1 FROM moved) AS moved, (SELECT expires_at FROM issued) AS next_expires_at`;
// Built once: the text names the prepared statement, and a hot statement's text is not rebuilt per request.
const SPEND_CHECKIN_WITH_FACTS_SQL = `${SPEND_CHECKIN_SQL}, ${offerFactsColumns({ id: '$1', hardwareId: '$9', channel: '$10', labels: '$11' })}`;

/**
 * As spendNonceAndRecordCheckin, and with `nextNonceTtlSeconds` a fresh nonce for the device's next
 * check-in issued in the same statement, only when this one was spent (a refused or replayed
 * check-in issues nothing): one request per check-in instead of nonce + check-in. With `offerFactsFor`
 * the statement also reads the device's offer facts (fleet/offer-facts.ts), which the check-in's
 * answer needs next: one round trip instead of two. They are read from the statement's snapshot, as
 * a query of their own a moment later would; the spend does not touch the rollout tables they read.
 */
export async function spendNonceRecordCheckinAndIssueNext(
  db: Queryable,
  deviceId: string,
  nonce: string,
  state: CheckinState,
  nextNonceTtlSeconds?: number,
  offerFactsFor?: OfferFactsDevice,
): Promise<CheckinSpend> {
  const next = nextNonceTtlSeconds === undefined ? null : randomBytes(32).toString('base64url');
  const { rows } = await db.query<{ moved: boolean; next_expires_at: Date | null } & Partial<OfferFactsRow>>(
    offerFactsFor ? SPEND_CHECKIN_WITH_FACTS_SQL : SPEND_CHECKIN_SQL,
    [deviceId, state.currentVersion, state.imageSha256, state.slot, state.securityVersion, nonce, next, nextNonceTtlSeconds ?? 0, ...(offerFactsFor ? offerFactsParams(offerFactsFor).slice(1) : [])],
  );
  const row = rows[0]!;
  if (!row.moved) return { check: await nonceRefusal(db, deviceId, nonce) };
  return {
    check: 'ok',
    ...(next && row.next_expires_at && { next: { nonce: next, expiresAt: asDate(row.next_expires_at) } }),
    ...(offerFactsFor && { facts: toOfferFacts(row as OfferFactsRow) }),
  };
}

/**
 * Stores a signature-verified report if its nonce is fresh and its counter is above the last one
 * (by at most MAX_COUNTER_STEP), in one statement: the device's state row is locked first (FOR
 * UPDATE, so concurrent reports of one device queue and each sees the counter the last one left),
 * the nonce is spent only if the counter may move, the counter moves only with the nonce spent, and
 * the report is inserted only with the counter moved. A rejected report changes nothing (its nonce
 * stays unused); only then is a second query asked why. One round trip instead of a transaction's six.
 */
export async function storeReport(db: Queryable, report: HealthReport, envelope: SignedEnvelope): Promise<StoreSignedOutcome> {
  const { rows } = await db.query<{ last_counter: number | string | null; stored: number | string }>(
    `WITH st AS MATERIALIZED (
       SELECT last_counter FROM device_state WHERE device_id = $1 FOR UPDATE
     ),
     spent AS (
       UPDATE nonces SET used_at = now()
       WHERE nonce = $3 AND device_id = $1 AND used_at IS NULL AND expires_at > now()
         AND EXISTS (SELECT 1 FROM st WHERE st.last_counter < $2::bigint AND $2::bigint <= st.last_counter + $17::bigint)
       RETURNING device_id
     ),
     moved AS (
       UPDATE device_state SET last_counter = $2, last_report_at = now(), state = $8, failure_kind = $9, release_version = $4,
         slot = $6, boot_count = $7, image_sha256 = $5,
         current_version = CASE WHEN $8 IN ('booted', 'committed') THEN $4 ELSE current_version END
       WHERE device_id = $1 AND EXISTS (SELECT 1 FROM spent)
       RETURNING device_id
     ),
     stored AS (
       INSERT INTO reports (device_id, counter, nonce, release_version, image_sha256, slot, boot_count, state, failure_kind, detail,
         metrics, custom, created_at, payload, signature, key_algorithm)
       SELECT $1, $2::bigint, $3, $4, $5, $6, $7::integer, $8, $9, $10::text, $11::jsonb, $12::jsonb, $13::timestamptz, $14::text, $15::text, $16::text FROM moved
       RETURNING device_id
     )
     SELECT (SELECT last_counter FROM st) AS last_counter, (SELECT count(*) FROM stored) AS stored`,
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
      MAX_COUNTER_STEP,
    ],
  );
  if (Number(rows[0]?.stored ?? 0) > 0) return { kind: 'accepted', counter: report.counter };
  // Refused: the nonce first (as the device must fetch a fresh one either way), then the counter.
  const nonce = await nonceState(db, report.deviceId, report.nonce);
  if (nonce !== 'ok') return { kind: 'nonce-rejected', reason: nonce };
  const last = Number(rows[0]?.last_counter ?? 0);
  if (report.counter > last + MAX_COUNTER_STEP) return { kind: 'counter-jump', lastCounter: last, maxStep: MAX_COUNTER_STEP };
  return { kind: 'stale-counter', lastCounter: last };
}

/** Whether a nonce could be spent now, without spending it. */
async function nonceState(q: Queryable, deviceId: string, nonce: string): Promise<NonceCheck> {
  const { rows } = await q.query<{ used_at: Date | null; expired: boolean }>('SELECT used_at, expires_at <= now() AS expired FROM nonces WHERE nonce = $1 AND device_id = $2', [nonce, deviceId]);
  if (!rows[0]) return 'unknown';
  if (rows[0].used_at) return 'used';
  return rows[0].expired ? 'expired' : 'ok';
}

export async function reportsOf(db: Queryable, deviceId: string, limit: number): Promise<StoredReport[]> {
  const { rows } = await db.query<{ counter: number | string; state: ReportState; release_version: string; failure_kind: FailureKind | null; received_at: Date; payload: string }>(
    'SELECT counter, state, release_version, failure_kind, received_at, payload FROM reports WHERE device_id = $1 ORDER BY counter DESC LIMIT $2',
    [deviceId, limit],
  );
  return rows.map((r) => {
    const frozen = frozenOf(r.payload);
    return { counter: Number(r.counter), state: r.state, releaseVersion: r.release_version, failureKind: r.failure_kind, receivedAt: asDate(r.received_at), ...(frozen && { frozen }) };
  });
}

/** A frozen device's report says since when (kept in the signed payload, which the gateway verified and parsed). */
function frozenOf(payload: string): Frozen | undefined {
  try {
    return frozenSchema.safeParse((JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) as { frozen?: unknown }).frozen).data;
  } catch {
    return undefined;
  }
}

/** The reports of a rollout ring's devices about its release since they were assigned, counted. */
interface RingDeviceGroup {
  reporting: boolean;
  latest_state: ReportState | null;
  latest_failure_kind: FailureKind | null;
  kinds: FailureKind[];
  ever_failed: boolean;
  has_outcome: boolean;
  past_deadline: boolean;
  n: number | string;
  [column: string]: unknown;
}

/**
 * One statement, one pass over the ring's reports: each assigned device is summarised (its latest
 * report's state and failure kind, the failure kinds it ever reported, whether it failed, has an
 * outcome, is past its install deadline), and devices with the same summary are counted together,
 * so the answer has a few dozen rows whatever the ring's size and the sums are made here. Four
 * queries each joined the ring's reports before (about 4x the database work on a large ring).
 */
export async function ringReportCounts(db: Queryable, rolloutId: string, ring: string, options: RingCountOptions = {}): Promise<RingReportCounts> {
  const { rows } = await db.query<RingDeviceGroup>(
    `WITH ring AS (SELECT device_id, release_version, assigned_at, offered_at FROM rollout_assignments WHERE rollout_id = $1 AND ring = $2),
     per_device AS (
       SELECT g.device_id,
         count(x.counter) > 0 AS reporting,
         (array_agg(x.state ORDER BY x.counter DESC))[1] AS latest_state,
         (array_agg(x.failure_kind ORDER BY x.counter DESC))[1] AS latest_failure_kind,
         COALESCE(array_agg(DISTINCT x.failure_kind ORDER BY x.failure_kind) FILTER (WHERE x.failure_kind IS NOT NULL), '{}') AS kinds,
         COALESCE(bool_or(x.failure_kind IS NOT NULL OR x.state IN ('failed', 'rolled-back')), false) AS ever_failed,
         COALESCE(bool_or(x.state IN ('committed', 'failed', 'rolled-back')), false) AS has_outcome,
         ($3::integer IS NOT NULL AND g.offered_at IS NOT NULL AND g.offered_at + make_interval(secs => $3::integer) <= now()) AS past_deadline
       FROM ring g LEFT JOIN reports x ON x.device_id = g.device_id AND x.release_version = g.release_version AND x.received_at >= g.assigned_at
       GROUP BY g.device_id, g.offered_at)
     SELECT reporting, latest_state, latest_failure_kind, kinds, ever_failed, has_outcome, past_deadline, count(*) AS n
     FROM per_device GROUP BY reporting, latest_state, latest_failure_kind, kinds, ever_failed, has_outcome, past_deadline`,
    [rolloutId, ring, options.installDeadlineSeconds ?? null],
  );
  return sumRingGroups(rolloutId, ring, rows);
}

/** The ring's counts from its devices' summaries (ringReportCounts). Pure. */
function sumRingGroups(rolloutId: string, ring: string, groups: RingDeviceGroup[]): RingReportCounts {
  const counts: RingReportCounts = {
    rolloutId,
    ring,
    assigned: 0,
    reporting: 0,
    byState: zeroes(reportStateSchema.options),
    byFailureKind: zeroes(FAILURE_KINDS),
    everFailedByKind: zeroes(FAILURE_KINDS),
    outcomes: { failed: 0, committed: 0, timedOut: 0 },
  };
  for (const group of groups) {
    const n = Number(group.n);
    counts.assigned += n;
    if (group.reporting && group.latest_state) {
      counts.reporting += n;
      counts.byState[group.latest_state] += n;
      if (group.latest_failure_kind) counts.byFailureKind[group.latest_failure_kind] += n;
    }
    for (const kind of group.kinds) counts.everFailedByKind[kind] += n;
    if (group.ever_failed) counts.outcomes.failed += n;
    else if (group.latest_state === 'committed') counts.outcomes.committed += n;
    else if (!group.has_outcome && group.past_deadline) counts.outcomes.timedOut += n;
  }
  // Timed out (past the install deadline, no outcome) counts as a failure of its own kind.
  counts.everFailedByKind['timed-out'] += counts.outcomes.timedOut;
  return counts;
}

function zeroes<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}
