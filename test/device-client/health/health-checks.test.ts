// The post-boot health checks against real processes, files and a loopback HTTP server.
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { healthConfigSchema } from '../../../device-client/config.js';
import { runHealthChecks } from '../../../device-client/health/health-checks.js';

let dir: string;
let server: Server;
let base: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ota-device-health-'));
  server = createServer((req, res) => {
    if (req.url === '/slow') return void setTimeout(() => res.end('late'), 2000);
    res.statusCode = req.url === '/ok' ? 200 : 503;
    res.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  server?.closeAllConnections();
  server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('device health checks', () => {
  it('all pass: command, required service (pid file), HTTP probe, minimum uptime', async () => {
    const pidFile = join(dir, 'app.pid');
    await writeFile(pidFile, `${process.pid}\n`);
    const uptime = join(dir, 'uptime');
    await writeFile(uptime, '120.5 300.0\n');
    const report = await runHealthChecks(
      healthConfigSchema.parse({
        commands: [{ name: 'true', run: ['true'] }],
        requiredServices: [pidFile],
        serviceCheck: ['test', '-s'],
        http: [{ name: 'api', url: `${base}/ok` }],
        minUptimeSeconds: 60,
        uptimePath: uptime,
      }),
    );
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => `${c.kind}:${c.name}`)).toEqual(['uptime:minimum uptime', 'command:true', `service:${pidFile}`, 'http:api']);
  });

  it('each failure is named: exit code with stderr, timeout, missing service, bad status, no answer', async () => {
    const report = await runHealthChecks(
      healthConfigSchema.parse({
        commands: [
          { name: 'fails', run: ['sh', '-c', 'echo broken >&2; exit 4'] },
          { name: 'hangs', run: ['sleep', '30'], timeoutMs: 200 },
          { name: 'missing', run: ['/nonexistent/health-tool'] },
        ],
        requiredServices: [join(dir, 'no-such.pid')],
        serviceCheck: ['test', '-s'],
        http: [
          { name: 'down', url: `${base}/down` },
          { name: 'slow', url: `${base}/slow`, timeoutMs: 200 },
        ],
      }),
    );
    expect(report.ok).toBe(false);
    const byName = Object.fromEntries(report.checks.map((c) => [c.name, c]));
    expect(byName.fails).toMatchObject({ ok: false, detail: 'exit 4: broken' });
    expect(byName.hangs!.detail).toContain('timed out after 200 ms');
    expect(byName.hangs!.durationMs).toBeLessThan(5000);
    expect(byName.missing!.detail).toContain('ENOENT');
    expect(byName[join(dir, 'no-such.pid')]).toMatchObject({ ok: false, kind: 'service' });
    expect(byName.down).toMatchObject({ ok: false, detail: 'HTTP 503' });
    expect(byName.slow!.detail).toContain('no answer within 200 ms');
  });

  it('waits for the minimum uptime, then checks it again', async () => {
    const uptime = join(dir, 'uptime-short');
    await writeFile(uptime, '0.2 0.1\n');
    const started = Date.now();
    const report = await runHealthChecks(healthConfigSchema.parse({ minUptimeSeconds: 0.5, uptimePath: uptime }));
    // The file does not advance (it is not /proc/uptime), so after waiting the check fails honestly.
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(report.ok).toBe(false);
    expect(report.checks[0]!.detail).toContain('below the minimum');
  });
});
