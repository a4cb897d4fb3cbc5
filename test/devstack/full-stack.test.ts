// The whole local stack from temporal-dev.yml, natively: Temporal, versitygw (S3), PostgreSQL,
// the worker and the gateway. A release published through the stack's own worker lands in its S3
// bucket and is served by its gateway; `ota dev down` then leaves no process behind.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildSampleImage } from '../../demo/sample-image.js';
import { isAlive } from '../../devstack/processes.js';
import { findPostgresBinaries } from '../../devstack/postgres.js';
import { projectRoot } from '../../platform/paths.js';
import { findTool } from '../../platform/tools.js';
import { devStateDirs } from '../support/dev-state-dirs.js';
import { ensureDist } from '../support/dist.js';
import { freePort } from '../../platform/free-port.js';

const run = promisify(execFile);
const stackFile = join(projectRoot, 'temporal-dev.yml');
const tempStateDir = devStateDirs('ota-devfull-', stackFile);
const missing = [!findPostgresBinaries() && 'PostgreSQL binaries', !findTool('versitygw') && 'versitygw', !findTool('temporal') && 'temporal'].filter(Boolean);
if (missing.length) console.warn(`\n*** SKIPPING full dev stack test: ${missing.join(', ')} not installed (.ci/run installs them) ***\n`);

describe.skipIf(missing.length > 0)('ota dev up: the whole stack', () => {
  let skipReason: string | undefined;
  beforeAll(async () => {
    skipReason = await ensureDist();
    if (skipReason) console.warn(`\n*** SKIPPING full dev stack test: ${skipReason} ***\n`);
  }, 200_000);

  it('starts every service, publishes through them, and stops them all', async (ctx) => {
    if (skipReason) return ctx.skip();
    const stateDir = tempStateDir();
    const ports = { OTA_TEMPORAL_PORT: await freePort(), OTA_TEMPORAL_UI_PORT: await freePort(), OTA_S3_PORT: await freePort(), OTA_FLEET_DB_PORT: await freePort(), OTA_GATEWAY_PORT: await freePort(), OTA_API_PORT: await freePort() };
    const env = { ...process.env, ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])), OTA_STATE_DIR: stateDir };
    const ota = (...args: string[]) => run(process.execPath, [join(projectRoot, 'bin', 'ota.js'), ...args], { env, timeout: 150_000 });
    const dev = (...args: string[]) => ota('dev', ...args, '--file', stackFile, '--state-dir', stateDir);

    await dev('up', '--detach');
    const status = JSON.parse((await dev('status', '--json')).stdout) as { services: Array<{ name: string; state: string; pid?: number; answering: boolean }> };
    expect(status.services.map((s) => [s.name, s.state, s.answering])).toEqual([
      ['temporal', 'running', true],
      ['artifacts', 'running', true],
      ['fleet-db', 'running', true],
      ['worker', 'running', true],
      ['gateway', 'running', true],
      ['api', 'running', true],
    ]);

    // Publish with the stack's worker (remote) into the stack's S3 bucket.
    const image = join(stateDir, 'fw.tar');
    buildSampleImage({ version: '3.0.0', out: image });
    const client = {
      OTA_TEMPORAL_ADDRESS: `127.0.0.1:${ports.OTA_TEMPORAL_PORT}`,
      OTA_STORE: 's3://ota-artifacts',
      OTA_S3_ENDPOINT: `http://127.0.0.1:${ports.OTA_S3_PORT}`,
      OTA_S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: 'otadev',
      AWS_SECRET_ACCESS_KEY: 'otadevsecret',
    };
    const publish = await run(process.execPath, [join(projectRoot, 'bin', 'ota.js'), 'release', 'publish', '--worker', 'remote', '--image', image, '--version', '3.0.0', '--hardware', 'gw-stack', '--json'], {
      env: { ...env, ...client },
      timeout: 150_000,
    });
    expect(JSON.parse(publish.stdout)).toMatchObject({ version: '3.0.0', outcome: 'created' });
    const index = (await (await fetch(`http://127.0.0.1:${ports.OTA_GATEWAY_PORT}/v1/releases/gw-stack/channels/stable/index.json`)).json()) as { releases: Array<{ version: string }> };
    expect(index.releases.map((r) => r.version)).toEqual(['3.0.0']);

    const down = JSON.parse((await dev('down', '--json')).stdout) as { stopped: Array<{ name: string; pid: number; result: string }> };
    expect(down.stopped.map((s) => s.name)).toEqual(['api', 'gateway', 'worker', 'fleet-db', 'artifacts', 'temporal']);
    for (const s of status.services) expect(isAlive(s.pid!)).toBe(false);
  }, 240_000);
});
