// The device's on-disk report queue against a real gateway: durable across restarts and torn
// writes, sent in order, dropped only once the gateway answered for a report.
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateDeviceKey, signPayload } from '../../../schemas/device-envelope.js';
import { GatewayClient } from '../../../device-client/gateway/gateway-client.js';
import { ReportQueue } from '../../../device-client/reports/queue.js';
import { flushReports } from '../../../device-client/reports/send-reports.js';
import type { HealthReportBody } from '../../../schemas/device-api.js';
import { useTempGateway } from '../../support/temp-gateway.js';
import { enrollBody, postEnroll } from '../../support/admission.js';

const env = useTempGateway('ota-report-queue-');


let seq = 0;
async function enrolledDevice() {
  const key = generateDeviceKey('ed25519');
  const deviceId = `queue-dev-${++seq}`;
  const token = (await env.fleet.createEnrollmentToken({ deviceId, ttlSeconds: 600, channel: 'stable', labels: {} })).token;
  const res = await postEnroll(env.gateway.url, enrollBody({ id: deviceId, hardwareId: 'gw-q', key }), { authorization: `Bearer ${token}` });
  expect(res.status).toBe(201);
  return { deviceId, key, dir: join(env.root, deviceId) };
}

function body(deviceId: string, state: HealthReportBody['state'], extra: Partial<HealthReportBody> = {}): HealthReportBody {
  return {
    type: 'report', deviceId, releaseVersion: '2.0.0', imageSha256: 'd'.repeat(64), slot: 'A', bootCount: 1, state,
    metrics: { crashCount: 0, uptimeSeconds: 5, freeMemoryBytes: 1024 }, custom: {}, createdAt: '2026-03-01T00:00:00Z', ...extra,
  };
}

describe('report queue', () => {
  it('survives a restart and a torn last write, and keeps counting up without reusing a counter', async () => {
    const { deviceId, dir } = await enrolledDevice();
    const queue = new ReportQueue(dir);
    expect((await queue.enqueue(body(deviceId, 'downloading'))).counter).toBe(1);
    expect((await queue.enqueue(body(deviceId, 'installed'))).counter).toBe(2);
    // Power cut mid-enqueue of report 3: its counter was reserved, its file half-written (a temp
    // file of the atomic write, or a filesystem exposing the torn file itself).
    writeFileSync(join(dir, 'reports', 'counter.json'), '{"next":4}');
    writeFileSync(join(dir, 'reports', 'pending', '.0000000000000003.json.1.x.tmp'), '{"counter":3,"body":{"type":"rep');
    writeFileSync(join(dir, 'reports', 'pending', '0000000000000003.json'), '{"counter":3,"body":{"type":"rep');

    const reopened = new ReportQueue(dir);
    expect((await reopened.pending()).map((e) => [e.counter, e.body.state])).toEqual([[1, 'downloading'], [2, 'installed']]);
    expect((await reopened.enqueue(body(deviceId, 'booted'))).counter).toBe(4); // 3 was reserved: a gap, never a reuse
    expect(readdirSync(join(dir, 'reports', 'pending')).filter((n) => !n.startsWith('.'))).toHaveLength(3);
  });

  it('sends in order, drops only acknowledged reports, and keeps everything while the gateway is down', async () => {
    const device = await enrolledDevice();
    const queue = new ReportQueue(device.dir);
    for (const state of ['downloading', 'installed', 'booted', 'committed'] as const) await queue.enqueue(body(device.deviceId, state));

    const down = await flushReports(queue, new GatewayClient('http://127.0.0.1:9', { timeoutMs: 2000 }), device.key);
    expect(down).toMatchObject({ sent: [], remaining: 4 });
    expect(down.stopped).toMatch(/unreachable/);

    const sent = await flushReports(queue, new GatewayClient(env.gateway.url), device.key);
    expect(sent).toEqual({ sent: [1, 2, 3, 4], duplicates: [], deadLettered: [], remaining: 0 });
    expect((await env.fleet.reportsOf(device.deviceId)).map((r) => [r.counter, r.state])).toEqual([[4, 'committed'], [3, 'booted'], [2, 'installed'], [1, 'downloading']]);

    const reopened = new ReportQueue(device.dir);
    expect(await reopened.pending()).toEqual([]);
    expect((await reopened.enqueue(body(device.deviceId, 'committed'))).counter).toBe(5);
  });

  it('acks a report the gateway already stored (answer lost), and sets aside one it can never accept', async () => {
    const device = await enrolledDevice();
    const queue = new ReportQueue(device.dir);
    await queue.enqueue(body(device.deviceId, 'booted'));
    await queue.enqueue(body(device.deviceId, 'committed', { failureKind: 'health' })); // gateway: 400 (caught before sending)
    await queue.enqueue(body(device.deviceId, 'committed'));

    // Report 1 reached the gateway, but the device never saw the answer.
    const nonce = ((await (await fetch(`${env.gateway.url}/v1/nonce?device=${device.deviceId}`)).json()) as { nonce: string }).nonce;
    const first = await fetch(`${env.gateway.url}/v1/reports`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(signPayload({ ...(await queue.pending())[0]!.body, counter: 1, nonce }, device.key)),
    });
    expect(first.status).toBe(200);

    const result = await flushReports(queue, new GatewayClient(env.gateway.url), device.key);
    expect(result).toMatchObject({ sent: [3], duplicates: [1], deadLettered: [{ counter: 2 }], remaining: 0 });
    const dead = await queue.dead();
    // The sender checks the signed report against the same contract as the gateway, so it never sends it.
    expect(dead.map((d) => [d.counter, d.rejected.code])).toEqual([[2, 'invalid-locally']]);
    expect(dead[0]!.rejected.detail).toContain('failureKind');
    expect((await env.fleet.reportsOf(device.deviceId)).map((r) => r.counter)).toEqual([3, 1]);
  });

  it('stops, keeping the report, when the gateway refuses the device', async () => {
    const device = await enrolledDevice();
    const queue = new ReportQueue(device.dir);
    await queue.enqueue(body(device.deviceId, 'booted'));
    await env.fleet.revokeDevice(device.deviceId, 'test');
    const result = await flushReports(queue, new GatewayClient(env.gateway.url), device.key);
    expect(result.remaining).toBe(1);
    expect(result.stopped).toMatch(/403|revoked/);
    expect((await queue.pending()).map((e) => e.counter)).toEqual([1]);
  });
});
