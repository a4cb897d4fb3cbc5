// One thin adapter over the two SQL engines the fleet store runs on: embedded PGlite (the
// default, a directory on disk) and PostgreSQL through `pg` (production). Both speak the same
// SQL with $1 parameters, so everything above this file is engine-agnostic.
//
// Differences smoothed here: pg returns bigint/count as strings, PGlite as numbers (callers
// normalise with Number()); multi-statement scripts go through exec (PGlite's query() takes one).
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import pg from 'pg';

export type Row = Record<string, unknown>;

export interface Queryable {
  query<T extends Row = Row>(sql: string, params?: unknown[]): Promise<{ rows: T[]; rowCount: number }>;
  /** Several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface FleetDatabase extends Queryable {
  readonly engine: 'pglite' | 'postgres';
  /** Runs fn in one transaction: COMMIT when it resolves, ROLLBACK when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** `pglite:DIR` (or `pglite:memory:`), or `postgres://...` / `postgresql://...`. */
export async function openDatabase(url: string): Promise<FleetDatabase> {
  if (url.startsWith('pglite:')) return openPglite(url.slice('pglite:'.length));
  if (/^postgres(ql)?:\/\//.test(url)) return openPostgres(url);
  throw new Error(`fleet database url must start with pglite:, postgres:// or postgresql:// (got ${JSON.stringify(url)})`);
}

async function openPglite(dir: string): Promise<FleetDatabase> {
  let db: PGlite;
  if (dir === 'memory:' || dir === '') db = new PGlite();
  else {
    // The database holds every device's public key and history: owner only. PGlite creates its
    // files 0666 (less the umask), so the folder is what keeps others out.
    mkdirSync(resolve(dir), { recursive: true, mode: 0o700 });
    chmodSync(resolve(dir), 0o700);
    db = new PGlite(resolve(dir));
  }
  await db.waitReady;
  const wrap = (q: PGlite | Transaction): Queryable => ({
    async query<T extends Row>(sql: string, params: unknown[] = []) {
      const result = await q.query<T>(sql, params);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    },
    async exec(sql: string) {
      await q.exec(sql);
    },
  });
  return {
    engine: 'pglite',
    ...wrap(db),
    transaction: (fn) => db.transaction((tx) => fn(wrap(tx))),
    close: () => db.close(),
  };
}

async function openPostgres(url: string): Promise<FleetDatabase> {
  // Small pool: the gateway's queries are short; more connections only add contention.
  const pool = new pg.Pool({ connectionString: url, max: 10, idleTimeoutMillis: 10_000 });
  // An idle connection dropped by the server (restart, failover) must not crash the process: the
  // pool discards it and the next query opens a new one.
  pool.on('error', () => {});
  // Fail at open, with the URL's host, rather than at the first device request.
  const probe = await pool.connect().catch((error: Error) => {
    void pool.end();
    throw new Error(`cannot connect to the fleet database at ${redact(url)}: ${error.message}`, { cause: error });
  });
  probe.release();
  const wrap = (q: pg.Pool | pg.PoolClient): Queryable => ({
    async query<T extends Row>(sql: string, params: unknown[] = []) {
      // Parameterised statements are prepared once per connection (named by their text) and then
      // only bound and executed: the server parses and plans each hot query once, not per request.
      const result = await q.query<T>(params.length ? { name: statementName(sql), text: sql, values: params } : sql, params.length ? undefined : params);
      return { rows: result.rows, rowCount: result.rowCount ?? result.rows.length };
    },
    async exec(sql: string) {
      await q.query(sql);
    },
  });
  return {
    engine: 'postgres',
    ...wrap(pool),
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(wrap(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

const statementNames = new Map<string, string>();

/** A stable prepared-statement name for one SQL text (pg keeps them per connection). */
function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (!name) {
    name = `ota_${createHash('sha256').update(sql).digest('hex').slice(0, 40)}`;
    if (statementNames.size < 10_000) statementNames.set(sql, name);
  }
  return name;
}

/** The URL without its password, for error messages. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, ':***@');
  }
}
