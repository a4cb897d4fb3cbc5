// A throwaway PostgreSQL cluster for the gateway load bench: initdb into a temp dir, the server on a
// free loopback port (as the `postgres` account when we run as root), removed on stop. The same
// recipe as test/support/postgres.ts, from the compiled devstack/ (bench/ loads dist/, not test/).
// fsync stays off: the bench measures the gateway, not the disk of a shared machine.
// @ts-check
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';

const dist = (p) => pathToFileURL(fileURLToPath(new URL(`../dist/${p}`, import.meta.url))).href;

export async function startPostgres() {
  const [{ ensureDatabase, findPostgresBinaries, initDataDir, postgresAccount, postgresArgv, postgresUrl }, { freePort }] = await Promise.all([
    import(dist('devstack/postgres.js')),
    import(dist('platform/free-port.js')),
  ]);
  const bins = findPostgresBinaries();
  if (!bins) throw new Error('PostgreSQL binaries (initdb, postgres) not found: apt-get install postgresql');
  const dir = mkdtempSync(join(tmpdir(), 'ota-gwload-pg-'));
  const recipe = { dataDir: join(dir, 'data'), port: await freePort(), user: 'ota', database: 'fleet', embeddedUrl: `pglite:${join(dir, 'unused')}` };
  const account = postgresAccount();
  let log = '';
  initDataDir(recipe, bins, account, (text) => (log += text));
  const [command, ...argv] = postgresArgv(recipe, bins);
  const child = spawn(command, [...argv, '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=100'], {
    cwd: recipe.dataDir,
    uid: account?.uid,
    gid: account?.gid,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  // A signal skips the caller's `finally`: stop the cluster here too, so Ctrl-C or a kill does not
  // leave a postgres running with its data directory in /tmp.
  const onSignal = async (signal) => {
    await stop();
    process.kill(process.pid, signal);
  };
  const stop = async () => {
    for (const signal of ['SIGINT', 'SIGTERM']) process.off(signal, onSignal);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGINT');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, onSignal);
  const url = postgresUrl(recipe);
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const client = new pg.Client({ connectionString: url.replace(/\/[^/]*$/, '/postgres') });
      try {
        await client.connect();
        await client.end();
        break;
      } catch (error) {
        await client.end().catch(() => {});
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`postgres did not start: ${error.message}\n${log}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    await ensureDatabase(recipe);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, pid: child.pid, stop };
}

/** CPU seconds (user + system) of the postmaster and all its backends, from /proc. */
export function postgresCpuSeconds(postmasterPid) {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pid = Number(entry);
    const ppid = Number(fields[1]);
    if (pid !== postmasterPid && ppid !== postmasterPid) continue;
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (clock ticks)
  }
  return ticks / 100; // CLK_TCK is 100 on Linux
}
