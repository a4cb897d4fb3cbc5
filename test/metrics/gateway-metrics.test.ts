// GET /metrics on a real gateway over HTTP after real signed check-ins, reports, heartbeats and
// downloads: the counters move by outcome, state and failure kind, bytes by artifact kind (delta vs
// full, as hinted at check-in), refusals by code, the per-device nonce limit's 429s by route.
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createGatewayMetrics } from '../../metrics/gateway-metrics.js';
import { createRegistry } from '../../metrics/registry.js';
import type { CheckinRequest, CheckinResponse, Heartbeat } from '../../schemas/device-api.js';
import { signPayload } from '../../schemas/device-envelope.js';
import { signedDeviceClient, type SignedDevice } from '../support/signed-device.js';
import { publishStubRelease, writeStubIndex } from '../support/stub-release.js';
import { useTempGateway } from '../support/temp-gateway.js';
import { scrape, valueOf, type Sample } from './prometheus-text.js';

const HW = 'gw-metrics';
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const IMAGE_100 = Buffer.alloc(40_000, 1);
const IMAGE_110 = Buffer.alloc(50_000, 2);
const DELTA = Buffer.alloc(3_000, 3);
const imageSha = { '1.0.0': sha256(IMAGE_100), '1.1.0': sha256(IMAGE_110) };

const env = useTempGateway('ota-gateway-metrics-', {
  releasePolicy: 'newest',
  metrics: createGatewayMetrics(createRegistry('gateway', { processMetrics: false })),
  rateLimits: { perAddress: { perSecond: 2_000, burst: 4_000 }, perDeviceNonce: { perSecond: 0.01, burst: 6 } },
});

describe('gateway /metrics', () => {
  const devices = signedDeviceClient(() => ({ url: env.gateway.url, fleet: env.fleet }), HW, imageSha);
  let before: Sample[];

  beforeAll(async () => {
    const delta = await env.store.putBlob([DELTA]);
    const r100 = await publishStubRelease(env.store, { hardwareId: HW, version: '1.0.0', image: IMAGE_100 });
    const r110 = await publishStubRelease(env.store, {
      hardwareId: HW,
      version: '1.1.0',
      image: IMAGE_110,
      deltas: [{ format: 'bsdiff', fromVersion: '1.0.0', fromSha256: imageSha['1.0.0'], toSha256: imageSha['1.1.0'], sha256: delta.sha256, length: delta.size, location: delta.key, compression: 'none' }],
    });
    await writeStubIndex(env.store, HW, [r100.entry, r110.entry]);
    before = (await scrape(`${env.gateway.url}/metrics`)).samples;
  });

  const nonce = async (id: string) => ((await (await fetch(`${env.gateway.url}/v1/nonce?device=${id}`)).json()) as { nonce: string }).nonce;
  const checkinWithDeltas = async (device: SignedDevice): Promise<CheckinResponse> => {
    const body: CheckinRequest = {
      type: 'checkin', deviceId: device.id, hardwareId: HW, currentVersion: '1.0.0', imageSha256: imageSha['1.0.0'], bootedSlot: 'A',
      securityVersion: 1, supportedDeltaFormats: ['bsdiff'], nonce: await nonce(device.id), sentAt: new Date().toISOString(),
    };
    const res = await fetch(`${env.gateway.url}/v1/checkin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(signPayload(body, device.key)) });
    expect(res.status).toBe(200);
    return (await res.json()) as CheckinResponse;
  };
  const download = async (url: string) => Buffer.from(await (await fetch(new URL(url, env.gateway.url))).arrayBuffer());

  it('counts check-ins, reports and heartbeats by outcome, downloads by kind, refusals and rate limits', async () => {
    const deltaDevice = await devices.enroll('metrics-delta');
    const fullDevice = await devices.enroll('metrics-full');
    const current = await devices.enroll('metrics-current');

    const offeredDelta = await checkinWithDeltas(deltaDevice);
    expect(offeredDelta).toMatchObject({ action: 'update', artifact: { kind: 'delta' } });
    const offeredFull = await devices.checkin(fullDevice, '1.0.0'); // no delta formats: the full image
    expect(offeredFull).toMatchObject({ action: 'update', artifact: { kind: 'full' } });
    expect(await devices.checkin(current, '1.1.0')).toMatchObject({ action: 'none' });
    if (offeredDelta.action !== 'update' || offeredFull.action !== 'update') throw new Error('expected offers');
    expect((await download(offeredDelta.artifact.url)).length).toBe(DELTA.length);
    expect((await download(offeredFull.artifact.url)).length).toBe(IMAGE_110.length);

    await devices.report(deltaDevice, '1.1.0', 'committed');
    await devices.report(fullDevice, '1.1.0', 'failed', 'boot');
    // A check-in with a nonce spent already: refused, counted by its code.
    const spent = await nonce(current.id);
    const replay: CheckinRequest = { type: 'checkin', deviceId: current.id, hardwareId: HW, currentVersion: '1.1.0', imageSha256: imageSha['1.1.0'], bootedSlot: 'A', securityVersion: 1, supportedDeltaFormats: [], nonce: spent, sentAt: new Date().toISOString() };
    const post = (body: unknown) => fetch(`${env.gateway.url}/v1/checkin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post(signPayload(replay, current.key))).status).toBe(200);
    const refused = await post(signPayload(replay, current.key));
    expect(refused.status).toBe(409);
    const refusalCode = ((await refused.json()) as { error: string }).error;
    const heartbeat: Heartbeat = {
      type: 'heartbeat', deviceId: deltaDevice.id, releaseVersion: '1.1.0', imageSha256: imageSha['1.1.0'], slot: 'B', bootCount: 2, bootsSinceLast: 0, crashLoop: false, uptimeSeconds: 900,
      healthChecks: { run: 1, failed: 0 }, failedChecks: [], metrics: {}, windowSeconds: 300, sentAt: new Date().toISOString(), counter: 1, nonce: await nonce(deltaDevice.id),
    };
    expect((await fetch(`${env.gateway.url}/v1/heartbeats`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(signPayload(heartbeat, deltaDevice.key)) })).status).toBe(200);
    // The per-device nonce bucket (6) runs dry: 429s.
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await fetch(`${env.gateway.url}/v1/nonce?device=metrics-current`)).status);
    expect(statuses).toContain(429);

    const after = await scrape(`${env.gateway.url}/metrics`);
    expect(after.status).toBe(200);
    expect(after.contentType).toContain('text/plain');
    const moved = (name: string, labels: Record<string, string> = {}) => valueOf(after.samples, name, labels) - valueOf(before, name, labels);
    expect(moved('ota_gateway_checkins_total', { outcome: 'update' })).toBe(2);
    expect(moved('ota_gateway_checkins_total', { outcome: 'none' })).toBe(2);
    expect(moved('ota_gateway_checkins_total', { outcome: refusalCode })).toBe(1);
    expect(moved('ota_gateway_reports_total', { outcome: 'accepted', state: 'committed', failure_kind: 'none' })).toBe(1);
    expect(moved('ota_gateway_reports_total', { outcome: 'accepted', state: 'failed', failure_kind: 'boot' })).toBe(1);
    expect(moved('ota_gateway_heartbeats_total', { outcome: 'accepted' })).toBe(1);
    expect(moved('ota_gateway_served_bytes_total', { kind: 'delta' })).toBe(DELTA.length);
    expect(moved('ota_gateway_served_bytes_total', { kind: 'full' })).toBe(IMAGE_110.length);
    expect(moved('ota_gateway_rate_limited_total', { route: '/v1/nonce' })).toBe(statuses.filter((s) => s === 429).length);
    expect(moved('ota_gateway_requests_total', { route: '/v1/nonce', status: '429' })).toBe(statuses.filter((s) => s === 429).length);
    expect(moved('ota_gateway_request_duration_seconds_count', { route: '/v1/checkin', method: 'POST' })).toBe(5);
    expect(valueOf(after.samples, 'ota_gateway_request_duration_seconds_bucket', { route: '/v1/checkin', le: '+Inf' })).toBe(valueOf(after.samples, 'ota_gateway_request_duration_seconds_count', { route: '/v1/checkin' }));
    expect(after.samples.find((s) => s.name === 'ota_gateway_checkins_total')?.labels.service).toBe('gateway');
    // Defined for device certificate renewal, which does not go through the gateway yet.
    expect(after.text).toContain('# TYPE ota_gateway_certificate_renewals_total counter');
  });

  it('serves /metrics only to GET', async () => {
    const res = await fetch(`${env.gateway.url}/metrics`, { method: 'POST' });
    expect(res.status).toBe(405);
  });
});
