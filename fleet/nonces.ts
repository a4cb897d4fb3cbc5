// Single-use nonces: issued per device with a lifetime, consumed with one conditional UPDATE so
// the replay rule holds across gateway processes.
import { randomBytes } from 'node:crypto';
import type { Queryable } from './database.js';
import { asDate } from './rows.js';

export type NonceCheck = 'ok' | 'unknown' | 'used' | 'expired';

export async function issueNonce(db: Queryable, deviceId: string, ttlSeconds: number): Promise<{ nonce: string; expiresAt: Date }> {
  const nonce = randomBytes(32).toString('base64url');
  const { rows } = await db.query<{ expires_at: Date }>(
    `INSERT INTO nonces (nonce, device_id, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3)) RETURNING expires_at`,
    [nonce, deviceId, ttlSeconds],
  );
  return { nonce, expiresAt: asDate(rows[0]!.expires_at) };
}

export type NonceIssue = { kind: 'issued'; nonce: string; expiresAt: Date } | { kind: 'unknown' } | { kind: 'revoked'; revokedAt: Date };

/**
 * A nonce for a device that is enrolled and not revoked, in one statement (the device lookup and
 * the insert together); for an unknown or revoked device nothing is written and the answer says which.
 */
export async function issueNonceIfAdmitted(db: Queryable, deviceId: string, ttlSeconds: number): Promise<NonceIssue> {
  const nonce = randomBytes(32).toString('base64url');
  const { rows } = await db.query<{ expires_at: Date | null; known: boolean; revoked_at: Date | null }>(
    `WITH d AS (SELECT id, revoked_at FROM devices WHERE id = $2),
     issued AS (
       INSERT INTO nonces (nonce, device_id, expires_at)
       SELECT $1, id, now() + make_interval(secs => $3) FROM d WHERE revoked_at IS NULL
       RETURNING expires_at
     )
     SELECT (SELECT expires_at FROM issued) AS expires_at, EXISTS (SELECT 1 FROM d) AS known, (SELECT revoked_at FROM d) AS revoked_at`,
    [nonce, deviceId, ttlSeconds],
  );
  const row = rows[0]!;
  if (row.expires_at) return { kind: 'issued', nonce, expiresAt: asDate(row.expires_at) };
  return row.known && row.revoked_at ? { kind: 'revoked', revokedAt: asDate(row.revoked_at) } : { kind: 'unknown' };
}

/** Why a nonce cannot be spent (after a conditional spend found nothing). */
export async function nonceRefusal(q: Queryable, deviceId: string, nonce: string): Promise<Exclude<NonceCheck, 'ok'>> {
  const { rows } = await q.query<{ used_at: Date | null; expired: boolean }>(
    'SELECT used_at, expires_at <= now() AS expired FROM nonces WHERE nonce = $1 AND device_id = $2',
    [nonce, deviceId],
  );
  if (!rows[0]) return 'unknown';
  return rows[0].used_at ? 'used' : 'expired';
}

/** Marks the nonce used if it was issued to this device, unused and unexpired; else says why not. */
export async function consumeNonce(q: Queryable, deviceId: string, nonce: string): Promise<NonceCheck> {
  const used = await q.query(
    'UPDATE nonces SET used_at = now() WHERE nonce = $1 AND device_id = $2 AND used_at IS NULL AND expires_at > now() RETURNING nonce',
    [nonce, deviceId],
  );
  if (used.rowCount > 0) return 'ok';
  return nonceRefusal(q, deviceId, nonce);
}

/** Drops nonces expired for more than graceSeconds; returns how many. */
export async function pruneNonces(db: Queryable, graceSeconds: number): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM nonces WHERE expires_at < now() - make_interval(secs => $1)', [graceSeconds]);
  return rowCount;
}
