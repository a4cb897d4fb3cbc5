// API tokens for operators without an OIDC provider (CI, air-gapped sites). Only the sha256 of a
// token is stored: the secret is shown once, at creation. A token names its role and expires.
import { createHash, randomBytes } from 'node:crypto';
import type { Queryable } from './database.js';

export interface OperatorToken {
  id: string;
  name: string;
  role: string;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
}

type TokenRow = {
  id: string;
  name: string;
  role: string;
  created_by: string;
  created_at: Date | string;
  expires_at: Date | string;
  revoked_at: Date | string | null;
};

/** Every API token starts with this, which is how the API tells one from a JWT. */
export const API_TOKEN_PREFIX = 'ota_';

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

const toToken = (r: TokenRow): OperatorToken => ({
  id: r.id,
  name: r.name,
  role: r.role,
  createdBy: r.created_by,
  createdAt: new Date(r.created_at),
  expiresAt: new Date(r.expires_at),
  revokedAt: r.revoked_at === null ? null : new Date(r.revoked_at),
});

const COLUMNS = 'id, name, role, created_by, created_at, expires_at, revoked_at';

export interface NewOperatorToken {
  name: string;
  role: string;
  ttlSeconds: number;
  createdBy: string;
  now?: Date;
}

/** The stored record and the secret token (`ota_<id>_<secret>`), which is never stored. */
export async function createOperatorToken(db: Queryable, input: NewOperatorToken): Promise<{ token: string; record: OperatorToken }> {
  const id = randomBytes(6).toString('hex');
  const token = `${API_TOKEN_PREFIX}${id}_${randomBytes(32).toString('base64url')}`;
  const now = input.now ?? new Date();
  const expiresAt = new Date(now.getTime() + input.ttlSeconds * 1000);
  const { rows } = await db.query<TokenRow>(
    `INSERT INTO operator_tokens (id, name, role, token_hash, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
    [id, input.name, input.role, tokenHash(token), input.createdBy, now, expiresAt],
  );
  return { token, record: toToken(rows[0]!) };
}

/** The record whose hash the token has (revoked and expired ones too: the caller says which it is). */
export async function findOperatorToken(db: Queryable, token: string): Promise<OperatorToken | undefined> {
  const { rows } = await db.query<TokenRow>(`SELECT ${COLUMNS} FROM operator_tokens WHERE token_hash = $1`, [tokenHash(token)]);
  return rows[0] && toToken(rows[0]);
}

export async function listOperatorTokens(db: Queryable): Promise<OperatorToken[]> {
  const { rows } = await db.query<TokenRow>(`SELECT ${COLUMNS} FROM operator_tokens ORDER BY created_at, id`);
  return rows.map(toToken);
}

/** True when a token that was not revoked is revoked now. */
export async function revokeOperatorToken(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE operator_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL', [id]);
  return rowCount > 0;
}
