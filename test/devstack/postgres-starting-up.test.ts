// `ota dev up` creates the fleet database once PostgreSQL's port answers; but the postmaster
// listens before it accepts sessions ("the database system is starting up", 57P03), a window
// that a loaded CI machine made long enough to fail the walk-through. A standby with
// hot_standby=off holds that refusal until it is promoted: ensureDatabase must wait it out,
// and give up with the server's own message at its deadline.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tcpAnswers } from '../../devstack/probes.js';
import { ensureDatabase, findPostgresBinaries, initDataDir, postgresAccount, postgresArgv } from '../../devstack/postgres.js';
import type { PostgresRecipe } from '../../devstack/schema.js';
import { freePort } from '../../platform/free-port.js';

const bins = findPostgresBinaries();

describe.skipIf(!bins)('fleet database creation while PostgreSQL is still starting up', () => {
  const account = bins ? postgresAccount() : undefined;
  let base: string;
  let server: ChildProcess | undefined;
  let recipe: PostgresRecipe;

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'ota-pg-starting-'));
    if (account) chownSync(base, account.uid, account.gid);
    recipe = { dataDir: join(base, 'data'), port: await freePort(), user: 'ota', database: 'fleet', embeddedUrl: 'pglite:unused' };
    initDataDir(recipe, bins!, account, () => undefined);
    // A standby that may not serve reads refuses every session with 57P03 until promoted.
    writeFileSync(join(recipe.dataDir, 'standby.signal'), '');
    if (account) chownSync(join(recipe.dataDir, 'standby.signal'), account.uid, account.gid);
    const [command, ...args] = postgresArgv(recipe, bins!);
    server = spawn(command!, [...args, '-c', 'hot_standby=off'], { uid: account?.uid, gid: account?.gid, stdio: 'ignore' });
    const deadline = Date.now() + 30_000;
    while (!(await tcpAnswers(`127.0.0.1:${recipe.port}`, 500))) {
      if (Date.now() > deadline) throw new Error('postgres did not listen within 30 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }, 60_000);

  afterAll(async () => {
    server?.kill('SIGINT');
    if (server && server.exitCode === null) await new Promise((resolve) => server!.once('exit', resolve));
    rmSync(base, { recursive: true, force: true });
  }, 30_000);

  const sessionError = async () => {
    const client = new pg.Client({ host: '127.0.0.1', port: recipe.port, user: recipe.user, database: 'postgres' });
    const error = await client.connect().then(
      () => undefined,
      (err: { code?: string }) => err,
    );
    await client.end().catch(() => undefined);
    return error;
  };

  it('gives up at its deadline with the refusal of the server', async () => {
    expect(await sessionError()).toMatchObject({ code: '57P03' });
    const started = Date.now();
    await expect(ensureDatabase(recipe, Date.now() + 1_000)).rejects.toMatchObject({ code: '57P03' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('waits while the port answers but sessions are refused, then creates the database', async () => {
    const created = ensureDatabase(recipe, Date.now() + 30_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await sessionError()).toMatchObject({ code: '57P03' }); // still refusing: ensureDatabase is waiting
    const promoted = spawnSync(join(dirname(bins!.postgres), 'pg_ctl'), ['promote', '-D', recipe.dataDir], { uid: account?.uid, gid: account?.gid, encoding: 'utf8' });
    expect(promoted.status, promoted.stderr).toBe(0);
    await created;
    const client = new pg.Client({ host: '127.0.0.1', port: recipe.port, user: recipe.user, database: 'fleet' });
    await client.connect();
    try {
      expect((await client.query('SELECT current_database() AS db')).rows[0].db).toBe('fleet');
    } finally {
      await client.end();
    }
  }, 60_000);
});
