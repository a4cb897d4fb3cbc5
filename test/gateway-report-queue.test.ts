// The device's on-disk report queue against a real gateway: durable across restarts and torn
// writes, sent in order, dropped only once the gateway answered for a report.
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDeviceKey } from '../device-client/reports/device-key.js';
import { signPayload } from '../device-client/reports/envelope.js';
import { ReportQueue } from '../device-client/reports/report-queue.js';
import { flushReports } from '../device-client/reports/report-sender.js';
import { FleetStore } from '../fleet/fleet-store.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import type { HealthReportBody } from '../schemas/device-api.js';
import { LocalArtifactStore } from '../stores/local-store.js';

const TOKEN = 'queue-test-enrollment-token';
let root: string;
let fleet: FleetStore;
let store: LocalArtifactStore;
let gateway: RunningGateway;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'ota-report-queue-'));
  fleet = await FleetStore.open(`pglite:${join(root, 'fleet')}`);
  store = new LocalArtifactStore(join(root, 'artifacts'));
  gateway = await startGateway({ host: '127.0.0.1', port: 0, version: 'test', fleet, store, enrollmentToken: TOKEN, logError: () => {} });
});

afterAll(async () => {
  await gateway?.close();
  await fleet?.close();
  rmSync(root, { recursive: true, force: true });
});

let seq = 0;
async function enrolledDevice() {
  const key = generateDeviceKey('ed25519');
  const deviceId = `queue-dev-${++seq}`;
  const res = await fetch(`${gateway.url}/v1/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ deviceId, hardwareId: 'gw-q', channel: 'stable', labels: {}, publicKey: { algorithm: key.algorithm, pem: key.publicKeyPem } }),
  });
  expect(res.status).toBe(201);
  return { deviceId, key, dir: join(root, deviceId) };
}

function body(deviceId: string, state: HealthReportBody['state'], extra: Partial<HealthReportBody> = {}): HealthReportBody {
  return {
    type: 'report', deviceId, releaseVersion: '2.0.0', imageSha256: 'd'.repeat(64), slot: 'A', bootCount: 1, state,
    metrics: { crashCount: 0, uptimeSeconds: 5, freeMemoryBytes: 1024 }, custom: {}, createdAt: '2026-03-01T00:00:00Z', ...extra,
  };
}

describe('report queue', () => {
  it('survives a restart and a torn last line, and keeps counting up', async () => {
    const { deviceId, dir } = await enrolledDevice();
    const queue = await ReportQueue.open(dir);
    expect(await queue.enqueue(body(deviceId, 'downloading'))).toBe(1);
    expect(await queue.enqueue(body(deviceId, 'installed'))).toBe(2);
    appendFileSync(join(dir, 'queue.log'), '{"counter":3,"report":{"type":"rep'); // power cut mid-append

    const reopened = await ReportQueue.open(dir);
    expect(reopened.pending().map((e) => [e.counter, e.report.state])).toEqual([[1, 'downloading'], [2, 'installed']]);
    expect(await reopened.enqueue(body(deviceId, 'booted'))).toBe(3);
    expect(readFileSync(join(dir, 'queue.log'), 'utf8').trim().split('\n')).toHaveLength(3);
  });

  it('sends in order, drops only acknowledged reports, and keeps everything while the gateway is down', async () => {
    const device = await enrolledDevice();
    const queue = await ReportQueue.open(device.dir);
    for (const state of ['downloading', 'installed', 'booted', 'committed'] as const) await queue.enqueue(body(device.deviceId, state));

    const down = await flushReports(queue, { gatewayUrl: 'http://127.0.0.1:9', deviceId: device.deviceId, key: device.key, timeoutMs: 2000 });
    expect(down).toMatchObject({ sent: 0, remaining: 4 });
    expect(down.stoppedBy).toMatch(/unreachable/);

    const sent = await flushReports(queue, { gatewayUrl: gateway.url, deviceId: device.deviceId, key: device.key });
    expect(sent).toEqual({ sent: 4, rejected: 0, remaining: 0 });
    expect((await fleet.reportsOf(device.deviceId)).map((r) => [r.counter, r.state])).toEqual([[4, 'committed'], [3, 'booted'], [2, 'installed'], [1, 'downloading']]);

    const reopened = await ReportQueue.open(device.dir);
    expect(reopened.pending()).toEqual([]);
    expect(await reopened.enqueue(body(device.deviceId, 'committed'))).toBe(5);
  });

  it('acks a report the gateway already stored (answer lost), and sets aside one it can never accept', async () => {
    const device = await enrolledDevice();
    const queue = await ReportQueue.open(device.dir);
    await queue.enqueue(body(device.deviceId, 'booted'));
    await queue.enqueue(body(device.deviceId, 'committed', { failureKind: 'health' })); // gateway: 400
    await queue.enqueue(body(device.deviceId, 'committed'));

    // Report 1 reached the gateway, but the device never saw the answer.
    const nonce = ((await (await fetch(`${gateway.url}/v1/nonce?device=${device.deviceId}`)).json()) as { nonce: string }).nonce;
    const first = await fetch(`${gateway.url}/v1/reports`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(signPayload({ ...queue.pending()[0]!.report, counter: 1, nonce }, device.key)),
    });
    expect(first.status).toBe(200);

    const result = await flushReports(queue, { gatewayUrl: gateway.url, deviceId: device.deviceId, key: device.key });
    expect(result).toEqual({ sent: 2, rejected: 1, remaining: 0 });
    const rejected = readFileSync(join(device.dir, 'rejected.log'), 'utf8');
    expect(rejected).toContain('payload.failureKind');
    expect((await fleet.reportsOf(device.deviceId)).map((r) => r.counter)).toEqual([3, 1]);
  });

  it('stops, keeping the report, when the gateway refuses the device', async () => {
    const device = await enrolledDevice();
    const queue = await ReportQueue.open(device.dir);
    await queue.enqueue(body(device.deviceId, 'booted'));
    await fleet.revokeDevice(device.deviceId, 'test');
    const result = await flushReports(queue, { gatewayUrl: gateway.url, deviceId: device.deviceId, key: device.key });
    expect(result.remaining).toBe(1);
    expect(result.stoppedBy).toMatch(/403|revoked/);
  });
});
