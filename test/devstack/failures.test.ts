// `ota dev` against real processes: Temporal's dev server from the project stack file
// (moved to free ports through the OTA_*_PORT variables), a temp state directory,
// and small throw-away stack files for the failure paths.
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downStack, statusStack, upStack } from '../../devstack/stack.js';
import { isAlive } from '../../devstack/processes.js';
import { statePath } from '../../devstack/state.js';
import { projectRoot } from '../../platform/paths.js';
import { findTool } from '../../platform/tools.js';
import { devStateDirs } from '../support/dev-state-dirs.js';
import { freePort } from '../../platform/free-port.js';

const tempStateDir = devStateDirs('ota-devstack-');

describe.skipIf(!findTool('temporal'))('ota dev with the Temporal dev server', () => {
  const stackFile = join(projectRoot, 'temporal-dev.yml');
  let stateDir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    stateDir = tempStateDir();
    env = { OTA_TEMPORAL_PORT: String(await freePort()), OTA_TEMPORAL_UI_PORT: String(await freePort()) };
  });

  it('starts temporal detached, reports it answering, and stops it by pid', async () => {
    const opts = { file: stackFile, stateDir, env };
    const up = await upStack({ ...opts, services: ['temporal'], detach: true });
    const outcome = up.outcomes.find((o) => o.name === 'temporal')!;
    expect(outcome.result, outcome.detail).toBe('started');
    expect(up.outcomes.map((o) => o.name)).toEqual(['temporal']);
    expect(outcome.urls['Temporal UI']).toBe(`http://127.0.0.1:${env.OTA_TEMPORAL_UI_PORT}/namespaces/ota/workflows`);
    const pid = outcome.pid!;
    expect(isAlive(pid)).toBe(true);
    expect(JSON.parse(readFileSync(statePath(stateDir), 'utf8')).services.temporal.pid).toBe(pid);
    expect(existsSync(join(stateDir, 'temporal.sqlite'))).toBe(true);

    const ui = await fetch(`http://127.0.0.1:${env.OTA_TEMPORAL_UI_PORT}/`);
    expect(ui.status).toBe(200);

    const status = await statusStack(opts);
    const temporal = status.find((s) => s.name === 'temporal')!;
    expect(temporal).toMatchObject({ state: 'running', pid, answering: true });
    expect(temporal.addresses).toEqual([`127.0.0.1:${env.OTA_TEMPORAL_PORT}`, `127.0.0.1:${env.OTA_TEMPORAL_UI_PORT}`]);
    expect(status.find((s) => s.name === 'gateway')!.state).toBe('not-started');

    // A second `up` finds our recorded pid and does not start a second server.
    const again = await upStack({ ...opts, services: ['temporal'], detach: true });
    expect(again.outcomes[0]).toMatchObject({ result: 'already-running', pid });
    expect(again.spawned).toEqual([]);

    const down = await downStack(opts);
    expect(down).toEqual([{ name: 'temporal', pid, result: 'stopped' }]);
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(statePath(stateDir))).toBe(false);
    const after = await statusStack(opts);
    expect(after.find((s) => s.name === 'temporal')).toMatchObject({ state: 'not-started', answering: false });
  });
});

describe('ota dev failure reporting', () => {
  let squatter: Server;
  let squattedPort: number;

  beforeAll(async () => {
    squatter = createServer((socket) => socket.end());
    squatter.listen(0, '127.0.0.1');
    await once(squatter, 'listening');
    squattedPort = (squatter.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => squatter.close(() => resolve())));

  function writeStack(stateDir: string, body: string[]): string {
    const file = join(stateDir, 'stack.yml');
    writeFileSync(file, ['services:', ...body, ''].join('\n'));
    return file;
  }

  it('reports a service whose command exits, with its log tail, and skips its dependants', async () => {
    const stateDir = tempStateDir();
    const node = JSON.stringify(process.execPath);
    const file = writeStack(stateDir, [
      '  broken:',
      '    x-ota:',
      `      command: [${node}, "-e", "console.error('no such subcommand: worker'); process.exit(3)"]`,
      '      ready:',
      '        - alive: 2',
      '  needs-broken:',
      '    depends_on: [broken]',
      '    x-ota:',
      `      command: [${node}, "-e", "setInterval(() => {}, 1000)"]`,
      '      ready:',
      '        - alive: 1',
    ]);
    const up = await upStack({ file, stateDir, detach: true });
    expect(up.ok).toBe(false);
    const [broken, dependant] = up.outcomes;
    expect(broken).toMatchObject({ name: 'broken', result: 'failed' });
    expect(broken!.detail).toContain('exited with code 3');
    expect(broken!.detail).toContain('no such subcommand: worker');
    expect(dependant).toMatchObject({ name: 'needs-broken', result: 'skipped' });
    expect(existsSync(statePath(stateDir))).toBe(false);
  });

  it('reports a missing binary clearly', async () => {
    const stateDir = tempStateDir();
    const file = writeStack(stateDir, ['  ghost:', '    x-ota:', '      command: [ota-no-such-binary-xyz]', '      ready:', '        - alive: 1']);
    const up = await upStack({ file, stateDir, detach: true });
    expect(up.outcomes[0]).toMatchObject({ result: 'failed' });
    expect(up.outcomes[0]!.detail).toContain('ota-no-such-binary-xyz not found on PATH or in .tools/bin');
  });

  it('refuses a port taken by a process it did not start, naming the pid', async () => {
    const stateDir = tempStateDir();
    const node = JSON.stringify(process.execPath);
    const file = writeStack(stateDir, [
      '  web:',
      '    x-ota:',
      `      command: [${node}, "-e", "require('http').createServer((q, r) => r.end('ok')).listen(${squattedPort}, '127.0.0.1')"]`,
      '      listen:',
      `        - "127.0.0.1:${squattedPort}"`,
      '      ready:',
      `        - http: "http://127.0.0.1:${squattedPort}/"`,
    ]);
    const up = await upStack({ file, stateDir, detach: true });
    expect(up.outcomes[0]).toMatchObject({ result: 'failed' });
    expect(up.outcomes[0]!.detail).toContain(`127.0.0.1:${squattedPort} is already in use by pid ${process.pid}`);
    expect(up.spawned).toEqual([]);
  });

  it('names the service of this stack that took a port for itself, as the dev server did to the fleet database in CI', async () => {
    const stateDir = tempStateDir();
    const [own, extra] = [await freePort(), await freePort()];
    const node = JSON.stringify(process.execPath);
    // A server that, like Temporal's dev server, opens a second listener of its own beside the port it was given.
    const listen = (port: number) => `require('net').createServer().listen(${port}, '127.0.0.1')`;
    const file = writeStack(stateDir, [
      '  server:',
      '    x-ota:',
      `      command: [${node}, "-e", "${listen(own)}; ${listen(extra)}"]`,
      '      listen:',
      `        - "127.0.0.1:${own}"`,
      '      ready:',
      `        - tcp: "127.0.0.1:${own}"`,
      '        - alive: 1',
      '  db:',
      '    depends_on: [server]',
      '    x-ota:',
      `      command: [${node}, "-e", "${listen(extra)}"]`,
      '      listen:',
      `        - "127.0.0.1:${extra}"`,
      '      ready:',
      `        - tcp: "127.0.0.1:${extra}"`,
    ]);
    const up = await upStack({ file, stateDir, detach: true });
    try {
      const server = up.outcomes.find((o) => o.name === 'server')!;
      expect(server.result, server.detail).toBe('started');
      const db = up.outcomes.find((o) => o.name === 'db')!;
      expect(db.result).toBe('failed');
      expect(db.detail).toBe(`127.0.0.1:${extra} is already in use by server (pid ${server.pid}) of this stack, which opened it for itself; move db to another port (see the OTA_*_PORT variables in the stack file)`);
    } finally {
      await downStack({ file, stateDir });
    }
  });

  it('starts a real HTTP service, reports a restart as already running, and stops it', async () => {
    const stateDir = tempStateDir();
    const port = await freePort();
    const node = JSON.stringify(process.execPath);
    const file = writeStack(stateDir, [
      '  web:',
      '    stop_grace_period: 2s',
      '    x-ota:',
      `      command: [${node}, "-e", "require('http').createServer((q, r) => r.end('ok')).listen(${port}, '127.0.0.1')"]`,
      '      listen:',
      `        - "127.0.0.1:${port}"`,
      '      ready:',
      `        - http: "http://127.0.0.1:${port}/"`,
    ]);
    const first = await upStack({ file, stateDir, detach: true });
    expect(first.outcomes[0]).toMatchObject({ result: 'started' });
    const pid = first.outcomes[0]!.pid!;
    const second = await upStack({ file, stateDir, detach: true });
    expect(second.outcomes[0]).toMatchObject({ result: 'already-running', pid });
    expect(await downStack({ file, stateDir })).toEqual([{ name: 'web', pid, result: 'stopped' }]);
    expect(isAlive(pid)).toBe(false);
  });
});
