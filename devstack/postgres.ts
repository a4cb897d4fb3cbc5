// The fleet database natively: Debian's PostgreSQL when installed (initdb once, then a
// postmaster on loopback), run as the `postgres` account when we are root because the
// server refuses to run as root. Without the binaries, processes fall back to PGlite.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { findTool } from '../platform/tools.js';
import type { PostgresRecipe } from './schema.js';

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

export interface Account {
  user: string;
  uid: number;
  gid: number;
}

/** PATH first (operators' own builds), then the newest /usr/lib/postgresql/<major>/bin. */
export function findPostgresBinaries(): PostgresBinaries | undefined {
  const initdb = findTool('initdb');
  const postgres = findTool('postgres');
  if (initdb && postgres) return { initdb, postgres };
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const majors = readdirSync(base).filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(b) - Number(a));
  for (const major of majors) {
    const bin = join(base, major, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'postgres'))) return { initdb: join(bin, 'initdb'), postgres: join(bin, 'postgres') };
  }
  return undefined;
}

function lookupAccount(user: string): Account | undefined {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${user}:`));
  if (!line) return undefined;
  const [, , uid, gid] = line.split(':');
  return { user, uid: Number(uid), gid: Number(gid) };
}

/** The account to run PostgreSQL as: ourselves, or `postgres` when we are root. */
export function postgresAccount(): Account | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const account = lookupAccount('postgres');
  if (!account) throw new Error('running as root, and PostgreSQL refuses root: create a "postgres" user (apt-get install postgresql does) or run as a normal user');
  return account;
}

/** Creates and initialises the data directory once (initdb), owned by the server's account. */
export function initDataDir(recipe: PostgresRecipe, bins: PostgresBinaries, account: Account | undefined, log: (text: string) => void): void {
  if (existsSync(join(recipe.dataDir, 'PG_VERSION'))) return;
  mkdirSync(recipe.dataDir, { recursive: true, mode: 0o700 });
  if (account) {
    chownSync(recipe.dataDir, account.uid, account.gid);
    // The server account must be able to reach its data directory through our state dir.
    const parent = dirname(recipe.dataDir);
    const mode = statSync(parent).mode;
    if ((mode & 0o001) === 0) chmodSync(parent, (mode & 0o7777) | 0o011);
  }
  const res = spawnSync(bins.initdb, ['-D', recipe.dataDir, '-U', recipe.user, '--auth=trust', '-E', 'UTF8', '--no-sync'], {
    encoding: 'utf8',
    uid: account?.uid,
    gid: account?.gid,
    cwd: recipe.dataDir,
  });
  log(`$ initdb -D ${recipe.dataDir}\n${res.stdout ?? ''}${res.stderr ?? ''}`);
  if (res.status !== 0) throw new Error(`initdb failed (exit ${res.status ?? res.signal ?? res.error?.message}): ${(res.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`);
}

export function postgresArgv(recipe: PostgresRecipe, bins: PostgresBinaries): string[] {
  // -k: the Unix socket goes into the data dir, which the server account owns.
  return [bins.postgres, '-D', recipe.dataDir, '-k', recipe.dataDir, '-h', '127.0.0.1', '-p', String(recipe.port)];
}

export function postgresUrl(recipe: PostgresRecipe): string {
  return `postgres://${recipe.user}@127.0.0.1:${recipe.port}/${recipe.database}`;
}

/** Creates the fleet database on first start (initdb only makes `postgres`). */
export async function ensureDatabase(recipe: PostgresRecipe, deadline = Date.now() + 30_000): Promise<void> {
  const client = await connectWhenReady(recipe, deadline);
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [recipe.database]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE "${recipe.database}"`);
  } finally {
    await client.end();
  }
}

// The postmaster listens before it accepts sessions: until recovery ends it answers
// "the database system is starting up" (57P03), a window that widens on a busy machine.
const STARTING_UP = '57P03';

async function connectWhenReady(recipe: PostgresRecipe, deadline: number): Promise<pg.Client> {
  for (;;) {
    const client = new pg.Client({ host: '127.0.0.1', port: recipe.port, user: recipe.user, database: 'postgres' });
    try {
      await client.connect();
      return client;
    } catch (err) {
      await client.end().catch(() => undefined);
      if ((err as { code?: string }).code !== STARTING_UP || Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
