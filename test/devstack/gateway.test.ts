// The device gateway's health endpoint, in-process and as the `ota gateway` command.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../../gateway/server.js';
import { projectRoot } from '../../platform/paths.js';

const { version } = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string };

describe('gateway /healthz', () => {
  let gateway: RunningGateway | undefined;
  afterAll(async () => gateway?.close());

  it('answers {status: "ok", version} and 404 elsewhere', async () => {
    gateway = await startGateway({ host: '127.0.0.1', port: 0, version });
    const res = await fetch(`${gateway.url}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({ status: 'ok', version });
    const missing = await fetch(`${gateway.url}/nowhere`);
    expect(missing.status).toBe(404);
    await missing.body?.cancel();
  });
});

// The command runs from dist/ (compiled by `npm run build` / tools/setup.mjs).
describe.skipIf(!existsSync(join(projectRoot, 'dist', 'cli', 'commands', 'gateway.js')))('ota gateway command', () => {
  it('serves /healthz on --port and exits cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [join(projectRoot, 'bin', 'ota.js'), 'gateway', '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      let stderr = '';
      child.stderr!.setEncoding('utf8');
      const url = await new Promise<string>((resolve, reject) => {
        child.stderr!.on('data', (chunk: string) => {
          stderr += chunk;
          const match = /listening on (http:\/\/\S+)/.exec(stderr);
          if (match) resolve(match[1]!);
        });
        child.once('exit', (code) => reject(new Error(`ota gateway exited (${code}): ${stderr}`)));
      });
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok', version });
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = await exited;
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
