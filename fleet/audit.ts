// The operator audit log: every operator action (who, role, what, target, reason, result) and the
// rollout workflow's own decisions, in one append-only, hash-chained table. Each entry's hash covers
// its fields and the previous entry's hash, so an edited, removed or reordered entry breaks the chain
// at that entry, and verifyAuditChain names it. Appends serialise on an advisory lock so two
// processes sharing a PostgreSQL database never fork the chain.
import { createHash } from 'node:crypto';
import type { FleetDatabase, Queryable } from './database.js';

// Arbitrary constant, distinct from the migration lock's.
const AUDIT_LOCK_KEY = 72_430_116;
/** The hash the first entry links to. */
export const AUDIT_GENESIS = '0'.repeat(64);

export type AuditResult = 'ok' | 'refused' | 'failed';

export interface AuditInput {
  actor: string;
  role: string;
  action: string;
  target: string;
  reason?: string | null;
  result: AuditResult;
  /** Small JSON facts: an error code, a decision's figures. */
  detail?: Record<string, unknown>;
}

export interface AuditEntry extends Required<Omit<AuditInput, 'detail'>> {
  seq: number;
  at: string;
  reason: string | null;
  detail: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

type AuditRow = {
  seq: number | string;
  at: string;
  actor: string;
  role: string;
  action: string;
  target: string;
  reason: string | null;
  result: AuditResult;
  detail: string;
  prev_hash: string;
  hash: string;
};

/** The entry's hash: sha256 over its fields in a fixed order, the previous hash included. */
export function auditEntryHash(e: Omit<AuditEntry, 'hash'>): string {
  const fields = [e.seq, e.at, e.actor, e.role, e.action, e.target, e.reason, e.result, e.detail, e.prevHash];
  return createHash('sha256').update(JSON.stringify(fields)).digest('hex');
}

function toEntry(r: AuditRow): AuditEntry {
  return { seq: Number(r.seq), at: r.at, actor: r.actor, role: r.role, action: r.action, target: r.target, reason: r.reason, result: r.result, detail: JSON.parse(r.detail) as Record<string, unknown>, prevHash: r.prev_hash, hash: r.hash };
}

async function appendLocked(tx: Queryable, input: AuditInput, now: Date): Promise<AuditEntry> {
  const { rows } = await tx.query<{ seq: number | string; hash: string }>('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
  const last = rows[0];
  const unhashed = {
    seq: last ? Number(last.seq) + 1 : 1,
    at: now.toISOString(),
    actor: input.actor,
    role: input.role,
    action: input.action,
    target: input.target,
    reason: input.reason ?? null,
    result: input.result,
    detail: input.detail ?? {},
    prevHash: last?.hash ?? AUDIT_GENESIS,
  };
  const entry = { ...unhashed, hash: auditEntryHash(unhashed) };
  await tx.query(
    'INSERT INTO audit_log (seq, at, actor, role, action, target, reason, result, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)',
    [entry.seq, entry.at, entry.actor, entry.role, entry.action, entry.target, entry.reason, entry.result, JSON.stringify(entry.detail), entry.prevHash, entry.hash],
  );
  return entry;
}

export async function appendAudit(db: FleetDatabase, input: AuditInput, now = new Date()): Promise<AuditEntry> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_LOCK_KEY]);
    return appendLocked(tx, input, now);
  });
}

/** A workflow decision as the audit log keeps it; `key` identifies it so it is appended once. */
export interface RecordedDecision {
  key: string;
  input: AuditInput;
}

/**
 * Appends the decisions of `target` not yet in the log (by key), in the order given: the rollout's
 * decisions reach the log whenever someone reads its status, however many readers race.
 */
export async function appendNewDecisions(db: FleetDatabase, target: string, decisions: RecordedDecision[], now = new Date()): Promise<number> {
  if (decisions.length === 0) return 0;
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_LOCK_KEY]);
    const { rows } = await tx.query<{ key: string }>("SELECT detail::jsonb->>'decisionKey' AS key FROM audit_log WHERE target = $1 AND detail::jsonb ? 'decisionKey'", [target]);
    const seen = new Set(rows.map((r) => r.key));
    let added = 0;
    for (const d of decisions) {
      if (seen.has(d.key)) continue;
      await appendLocked(tx, { ...d.input, detail: { ...d.input.detail, decisionKey: d.key } }, now);
      seen.add(d.key);
      added++;
    }
    return added;
  });
}

export interface AuditQuery {
  /** Entries after this sequence number (paging forward). */
  after?: number;
  target?: string;
  limit?: number;
}

export async function listAudit(db: Queryable, query: AuditQuery = {}): Promise<AuditEntry[]> {
  const { rows } = await db.query<AuditRow>(
    'SELECT seq, at, actor, role, action, target, reason, result, detail, prev_hash, hash FROM audit_log WHERE seq > $1 AND ($2::text IS NULL OR target = $2) ORDER BY seq LIMIT $3',
    [query.after ?? 0, query.target ?? null, Math.min(query.limit ?? 500, 5000)],
  );
  return rows.map(toEntry);
}

export interface AuditVerification {
  ok: boolean;
  entries: number;
  /** The first entry that does not hold: its sequence number and why. */
  firstBroken?: { seq: number; problem: string };
}

/** The pure walk: each entry must follow the previous (seq + 1, its hash) and hash to what it says. */
export function verifyAuditEntries(entries: readonly AuditEntry[], start: { seq: number; hash: string } = { seq: 0, hash: AUDIT_GENESIS }): AuditVerification {
  let prev = start;
  for (const e of entries) {
    const broken = (problem: string): AuditVerification => ({ ok: false, entries: entries.length, firstBroken: { seq: e.seq, problem } });
    if (e.seq !== prev.seq + 1) return broken(`sequence ${e.seq} follows ${prev.seq}: entries are missing`);
    if (e.prevHash !== prev.hash) return broken(`its previous hash ${e.prevHash.slice(0, 12)} is not entry ${prev.seq}'s ${prev.hash.slice(0, 12)}`);
    const { hash, ...rest } = e;
    if (auditEntryHash(rest) !== hash) return broken('its fields do not match its hash: the entry was changed');
    prev = { seq: e.seq, hash };
  }
  return { ok: true, entries: entries.length };
}

/** Walks the whole chain in pages. */
export async function verifyAuditChain(db: Queryable): Promise<AuditVerification> {
  let start = { seq: 0, hash: AUDIT_GENESIS };
  let total = 0;
  for (;;) {
    const page = await listAudit(db, { after: start.seq, limit: 5000 });
    if (page.length === 0) return { ok: true, entries: total };
    // A gap before the page's first entry is caught by the walk (seq must be start.seq + 1).
    const result = verifyAuditEntries(page, start);
    total += page.length;
    if (!result.ok) return { ...result, entries: total };
    const last = page[page.length - 1]!;
    start = { seq: last.seq, hash: last.hash };
  }
}
