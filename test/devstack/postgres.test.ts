// The `ota dev` commands end to end (bin/ota.js from dist/): up --detach, status --json,
// down --json, against a temp state dir with ports moved by OTA_*_PORT variables.
// Also the fleet database: real PostgreSQL when installed, embedded PGlite otherwise.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { isAlive } from '../../devstack/processes.js';
import { findPostgresBinaries } from '../../devstack/postgres.js';
import { downStack, statusStack, upStack } from '../../devstack/stack.js';
import { projectRoot } from '../../platform/paths.js';
import { findTool } from '../../platform/tools.js';
import { devStateDirs } from '../support/dev-state-dirs.js';
import { freePort } from '../../platform/free-port.js';

const run = promisify(execFile);
const stackFile = join(projectRoot, 'temporal-dev.yml');
const built = existsSync(join(projectRoot, 'dist', 'cli', 'commands', 'dev.js'));

const tempStateDir = devStateDirs('ota-devcli-', stackFile);

describe.skipIf(!built || !findTool('temporal'))('ota dev CLI', () => {
  it('up --detach temporal, status --json says answering, down --json leaves no process', async () => {
    const stateDir = tempStateDir();
    const env = { ...process.env, OTA_TEMPORAL_PORT: String(await freePort()), OTA_TEMPORAL_UI_PORT: String(await freePort()) };
    const ota = (...args: string[]) => run(process.execPath, [join(projectRoot, 'bin', 'ota.js'), 'dev', ...args, '--file', stackFile, '--state-dir', stateDir], { env, timeout: 120_000 });

    const up = await ota('up', '--detach', 'temporal');
    expect(up.stdout).toMatch(/temporal\s+started \(pid \d+\)/);
    expect(up.stdout).toContain(`Temporal UI    http://127.0.0.1:${env.OTA_TEMPORAL_UI_PORT}/`);

    const status = JSON.parse((await ota('status', '--json')).stdout) as { services: Array<{ name: string; state: string; pid?: number; answering: boolean }> };
    const temporal = status.services.find((s) => s.name === 'temporal')!;
    expect(temporal).toMatchObject({ state: 'running', answering: true });
    expect(isAlive(temporal.pid!)).toBe(true);

    const down = JSON.parse((await ota('down', '--json')).stdout) as { stopped: Array<{ name: string; pid: number; result: string }> };
    expect(down.stopped).toEqual([{ name: 'temporal', pid: temporal.pid, result: 'stopped' }]);
    expect(isAlive(temporal.pid!)).toBe(false);
  });

  it('rejects an unknown service by name', async () => {
    const result = await run(process.execPath, [join(projectRoot, 'bin', 'ota.js'), 'dev', 'up', 'no-such-service', '--file', stackFile, '--state-dir', tempStateDir()]).then(
      () => undefined,
      (err: { stderr: string; code: number }) => err,
    );
    expect(result?.code).toBe(1);
    expect(result?.stderr).toContain('unknown service "no-such-service"');
  });
});

describe('fleet database natively', () => {
  it(findPostgresBinaries() ? 'runs PostgreSQL with the fleet database, then stops it' : 'falls back to embedded PGlite', async () => {
    const stateDir = tempStateDir();
    const env = { OTA_FLEET_DB_PORT: String(await freePort()) };
    const opts = { file: stackFile, stateDir, env };
    const up = await upStack({ ...opts, services: ['fleet-db'], detach: true });
    const outcome = up.outcomes[0]!;
    if (!findPostgresBinaries()) {
      expect(outcome).toMatchObject({ result: 'embedded' });
      expect((await statusStack(opts)).find((s) => s.name === 'fleet-db')).toMatchObject({ state: 'embedded' });
      return;
    }
    expect(outcome.result, outcome.detail).toBe('started');
    const client = new pg.Client({ connectionString: `postgres://ota@127.0.0.1:${env.OTA_FLEET_DB_PORT}/fleet` });
    await client.connect();
    try {
      expect((await client.query('SELECT current_database() AS db')).rows[0].db).toBe('fleet');
    } finally {
      await client.end();
    }
    expect((await statusStack(opts)).find((s) => s.name === 'fleet-db')).toMatchObject({ state: 'running', answering: true, pid: outcome.pid });
    expect(await downStack(opts)).toEqual([{ name: 'fleet-db', pid: outcome.pid, result: 'stopped' }]);
    expect(isAlive(outcome.pid!)).toBe(false);
  });
});
