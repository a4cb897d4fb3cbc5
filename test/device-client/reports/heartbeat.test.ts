// The device's heartbeat: the body built from its figures (pure), metric lines from command
// checks, and sendHeartbeatIfDue against the real gateway (due windows, its own counter, crash loops
// from boots since the last heartbeat, no heartbeat during a trial boot, offline is an outcome).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Device } from '../../../device-client/agent/device.js';
import { parseDeviceConfig } from '../../../device-client/config.js';
import { GatewayClient } from '../../../device-client/gateway/gateway-client.js';
import { parseMetricLines, runCommandCheck } from '../../../device-client/health/command-check.js';
import type { HealthCheckSummary } from '../../../device-client/health/health-checks.js';
import { buildHeartbeatBody, heartbeatDueInSeconds, sendHeartbeatIfDue } from '../../../device-client/reports/heartbeat.js';
import type { MetricsSample } from '../../../device-client/reports/metrics.js';
import { heartbeatSchema } from '../../../schemas/device-api.js';
import { generateDeviceKey } from '../../../schemas/device-envelope.js';
import { useTempGateway } from '../../support/temp-gateway.js';
import { enrollBody, preauthorizeDevice } from '../../support/admission.js';

const SHA = 'e'.repeat(64);
const summary = (checks: Array<{ ok: boolean; name: string; metrics?: Record<string, number> }>): HealthCheckSummary => ({
  ok: checks.every((c) => c.ok),
  checks: checks.map((c) => ({ kind: 'command', name: c.name, ok: c.ok, detail: c.ok ? 'exit 0' : 'exit 1', durationMs: 1, ...(c.metrics ? { metrics: c.metrics } : {}) })),
});

describe('heartbeat body and metric lines', () => {
  it('counts boots since the last heartbeat, flags a crash loop at the threshold, names failing checks, merges metrics', () => {
    const base = { deviceId: 'd1', releaseVersion: '1.0.0', imageSha256: SHA, slot: 'A' as const, crashLoopBoots: 3, uptimeSeconds: 12.7, windowSeconds: 300, now: new Date('2030-01-01T00:00:00Z') };
    const first = buildHeartbeatBody({ ...base, bootCount: 5, lastBootCount: null, health: null });
    expect(first).toMatchObject({ bootsSinceLast: 0, crashLoop: false, uptimeSeconds: 12, healthChecks: { run: 0, failed: 0 }, failedChecks: [], metrics: {} });
    const looping = buildHeartbeatBody({ ...base, bootCount: 8, lastBootCount: 5, health: summary([{ ok: true, name: 'db', metrics: { 'db.lag': 3 } }, { ok: false, name: 'app', metrics: { 'app.restarts': 7 } }]) });
    expect(looping).toMatchObject({ bootsSinceLast: 3, crashLoop: true, healthChecks: { run: 2, failed: 1 }, failedChecks: ['command app'], metrics: { 'db.lag': 3, 'app.restarts': 7 } });
    expect(heartbeatSchema.safeParse({ ...looping, counter: 1, nonce: 'n'.repeat(43) }).success).toBe(true);
    expect(buildHeartbeatBody({ ...base, bootCount: 7, lastBootCount: 5, health: null }).crashLoop).toBe(false);
  });

  it('parses `metric name=value` lines, ignores everything else, keeps at most 64 names', () => {
    expect(parseMetricLines('hello\nmetric queue.depth=12\nmetric temp_mC=-400\nmetric bad name=1\nmetric x=1.5\n  metric queue.depth=13  ')).toEqual({ 'queue.depth': 13, temp_mC: -400 });
    const many = Array.from({ length: 70 }, (_, i) => `metric m${i}=${i}`).join('\n');
    expect(Object.keys(parseMetricLines(many))).toHaveLength(64);
  });

  it('a command check reports the metrics it printed', async () => {
    const outcome = await runCommandCheck([process.execPath, '-e', 'console.log("metric app.queue=4"); console.log("noise")'], 10_000);
    expect(outcome).toEqual({ ok: true, detail: 'exit 0', metrics: { 'app.queue': 4 } });
  });
});

describe('sendHeartbeatIfDue against the gateway', () => {
  const env = useTempGateway('ota-device-heartbeat-');
  /** A committed device on slot A running 1.0.0: only what the heartbeat reads. */
  function device(id: string, good = true): Device {
    const config = parseDeviceConfig(
      {
        deviceId: id, hardwareId: 'gw-hb', gatewayUrl: env.gateway.url, transport: { insecurePlainHttp: true }, slots: { A: 'a.img', B: 'b.img' }, bootloader: { kind: 'state-file', path: 'boot.json' },
        trust: { trustedRootPath: 'root.json' }, stateDir: join(env.root, id), heartbeat: { intervalSeconds: 60 },
      },
      env.root,
    );
    return {
      config,
      boot: { read: async () => ({ good: { A: good, B: false } }) },
      agentState: { read: async () => ({ slots: { A: { version: '1.0.0', sha256: SHA, length: 1, securityVersion: 1 }, B: null } }) },
      bootedSlot: async () => 'A',
    } as unknown as Device;
  }

  it('sends when due with its own rising counter, waits out the window, flags a crash loop from the boot count', async () => {
    const key = generateDeviceKey('ed25519');
    const client = new GatewayClient(env.gateway.url);
    await preauthorizeDevice(env.fleet, { id: 'hb-agent-1', hardwareId: 'gw-hb', key });
    await client.enroll(undefined, enrollBody({ id: 'hb-agent-1', hardwareId: 'gw-hb', key }));
    const d = device('hb-agent-1');
    let bootCount = 2;
    const metrics = async (): Promise<MetricsSample> => ({ bootCount, metrics: { crashCount: 0, uptimeSeconds: 100, freeMemoryBytes: 1 }, custom: {} });
    const health = async () => summary([{ ok: true, name: 'app', metrics: { 'app.queue': 1 } }]);
    const t0 = new Date();
    const first = await sendHeartbeatIfDue(d, { client, key, metrics, health, now: () => t0 });
    expect(first).toMatchObject({ kind: 'sent', heartbeat: { counter: 1, bootsSinceLast: 0, crashLoop: false, releaseVersion: '1.0.0', metrics: { 'app.queue': 1 } } });
    expect(await sendHeartbeatIfDue(d, { client, key, metrics, health, now: () => new Date(t0.getTime() + 30_000) })).toEqual({ kind: 'not-due', dueInSeconds: 30 });
    expect(await heartbeatDueInSeconds(d, new Date(t0.getTime() + 61_000))).toBe(0);
    bootCount = 6;
    const second = await sendHeartbeatIfDue(d, { client, key, metrics, health, now: () => new Date(t0.getTime() + 61_000) });
    expect(second).toMatchObject({ kind: 'sent', heartbeat: { counter: 2, bootsSinceLast: 4, crashLoop: true } });
    expect((await env.fleet.heartbeatsOf('hb-agent-1')).map((h) => [h.counter, h.failed])).toEqual([[2, true], [1, false]]);
  });

  it('skips a trial boot; an unreachable gateway is an outcome, not an error', async () => {
    const key = generateDeviceKey('ed25519');
    const metrics = async (): Promise<MetricsSample> => ({ bootCount: 1, metrics: { crashCount: 0, uptimeSeconds: 1, freeMemoryBytes: 1 }, custom: {} });
    const health = async () => summary([]);
    expect(await sendHeartbeatIfDue(device('hb-agent-2', false), { client: new GatewayClient(env.gateway.url), key, metrics, health })).toMatchObject({ kind: 'skipped' });
    const offline = await sendHeartbeatIfDue(device('hb-agent-3'), { client: new GatewayClient('http://127.0.0.1:9', { timeoutMs: 2000 }), key, metrics, health });
    expect(offline.kind).toBe('failed');
  });
});
