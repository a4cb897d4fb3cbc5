// A throwaway PostgreSQL cluster for one test file: initdb into a temp dir, the server on a random
// loopback port (as the `postgres` account when we are root, as devstack does), removed afterwards.
// Without Debian's binaries the caller skips its PostgreSQL tests, and says so loudly.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ensureDatabase, findPostgresBinaries, initDataDir, postgresAccount, postgresArgv, postgresUrl } from '../../devstack/postgres.js';
import type { PostgresRecipe } from '../../devstack/schema.js';
import { freePort } from '../../platform/free-port.js';

export interface ThrowawayPostgres {
  url: string;
  stop(): Promise<void>;
}

export const postgresBinaries = findPostgresBinaries();

/** Call at module load: prints why PostgreSQL tests are skipped, so a skip is never silent. */
export function warnIfPostgresMissing(suite: string): void {
  if (postgresBinaries) return;
  console.warn(
    `\n*** ${suite}: PostgreSQL binaries (initdb, postgres) not found on PATH or in /usr/lib/postgresql/*/bin; ` +
      `SKIPPING the PostgreSQL half of this suite. Install them (apt-get install postgresql) to run it; CI always does. ***\n`,
  );
}

async function waitUntilAccepting(url: string, child: ChildProcess, output: () => string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`postgres exited with ${child.exitCode}: ${output()}`);
    const client = new pg.Client({ connectionString: url.replace(/\/[^/]*$/, '/postgres') });
    try {
      await client.connect();
      await client.end();
      return;
    } catch (error) {
      await client.end().catch(() => {});
      if (Date.now() > deadline) throw new Error(`postgres did not accept connections within ${timeoutMs} ms: ${(error as Error).message}\n${output()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export async function startThrowawayPostgres(database = 'fleet'): Promise<ThrowawayPostgres> {
  const bins = postgresBinaries;
  if (!bins) throw new Error('PostgreSQL binaries not found');
  const root = mkdtempSync(join(tmpdir(), 'ota-pg-'));
  const recipe: PostgresRecipe = { dataDir: join(root, 'data'), port: await freePort(), user: 'ota', database, embeddedUrl: `pglite:${join(root, 'unused')}` };
  const account = postgresAccount();
  let log = '';
  initDataDir(recipe, bins, account, (text) => (log += text));
  const [command, ...args] = postgresArgv(recipe, bins);
  // fsync off: a test cluster never needs to survive a crash, and it is much faster on CI disks.
  const child = spawn(command!, [...args, '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'], {
    cwd: recipe.dataDir,
    uid: account?.uid,
    gid: account?.gid,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGINT'); // fast shutdown
      await exited;
    }
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const url = postgresUrl(recipe);
    await waitUntilAccepting(url, child, () => log);
    await ensureDatabase(recipe);
    return { url, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
