// POST /v1/heartbeats over real HTTP on 127.0.0.1: a real gateway and fleet store (PGlite).
// Signed heartbeats are accepted; a replayed, re-countered or tampered one is refused with its
// own error and changes nothing; the store's aggregates per release and window follow.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { GatewayClient, GatewayRefusedError } from '../../device-client/gateway/gateway-client.js';
import type { Heartbeat } from '../../schemas/device-api.js';
import { generateDeviceKey, signPayload, type DeviceKey } from '../../schemas/device-envelope.js';
import { backgroundNoise, ProtocolFleet } from '../../sim/protocol-fleet.js';
import type { LocalTrustRootJSON } from '../../signing/trust-root.js';
import { useTempGateway } from '../support/temp-gateway.js';
import { enrollBody, preauthorizeDevice } from '../support/admission.js';
import { preauthorizeIn } from '../support/rollout-fleet.js';

const HW = 'gw-heartbeat';
const SHA = 'c'.repeat(64);
const env = useTempGateway('ota-gateway-heartbeats-');

let client: GatewayClient;

beforeAll(async () => {
  client = new GatewayClient(env.gateway.url);
});

let seq = 0;
async function enroll(): Promise<{ id: string; key: DeviceKey }> {
  const key = generateDeviceKey(seq % 2 ? 'ed25519' : 'ecdsa-p256-sha256');
  const id = `hb-dev-${++seq}`;
  await preauthorizeDevice(env.fleet, { id, hardwareId: HW, key });
  await client.enroll(undefined, enrollBody({ id, hardwareId: HW, key }));
  return { id, key };
}

async function heartbeat(deviceId: string, counter: number, releaseVersion: string | null, over: Partial<Heartbeat> = {}): Promise<Heartbeat> {
  return {
    type: 'heartbeat', deviceId, releaseVersion, imageSha256: SHA, slot: 'A', bootCount: 2, bootsSinceLast: 0, crashLoop: false, uptimeSeconds: 900,
    healthChecks: { run: 1, failed: 0 }, failedChecks: [], metrics: {}, windowSeconds: 300, sentAt: new Date().toISOString(),
    counter, nonce: await client.nonce(deviceId), ...over,
  };
}

async function post(body: unknown) {
  const res = await fetch(`${env.gateway.url}/v1/heartbeats`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('POST /v1/heartbeats', () => {
  it('accepts a signed heartbeat; refuses a replay, a stale counter, a forged or tampered one, each with its own error and no state change', async () => {
    const device = await enroll();
    const first = await heartbeat(device.id, 1, '1.0.0', { metrics: { 'app.queue': 3 } });
    const envelope = signPayload(first, device.key);
    expect(await client.postHeartbeat(envelope, 1)).toEqual({ status: 'accepted', counter: 1 });

    // The same bytes again: the nonce is spent.
    expect(await post(envelope)).toMatchObject({ status: 409, json: { error: 'nonce-used' } });
    // The same counter over a fresh nonce: a replay of the counter.
    const again = await post(signPayload(await heartbeat(device.id, 1, '1.0.0'), device.key));
    expect(again).toMatchObject({ status: 409, json: { error: 'stale-counter' } });
    expect(String(again.json.detail)).toMatch(/last stored heartbeat counter 1/);
    // Another key's signature.
    expect(await post(signPayload(await heartbeat(device.id, 2, '1.0.0'), generateDeviceKey(device.key.algorithm)))).toMatchObject({ status: 401, json: { error: 'bad-signature' } });
    // A payload changed under a valid signature (a failure hidden).
    const failing = signPayload(await heartbeat(device.id, 3, '1.0.0', { healthChecks: { run: 1, failed: 1 }, failedChecks: ['command app'] }), device.key);
    const hidden = JSON.parse(Buffer.from(failing.payload, 'base64').toString('utf8')) as Heartbeat;
    hidden.healthChecks = { run: 1, failed: 0 };
    hidden.failedChecks = [];
    expect(await post({ ...failing, payload: Buffer.from(JSON.stringify(hidden)).toString('base64') })).toMatchObject({ status: 401, json: { error: 'bad-signature' } });
    // Out-of-bounds fields are refused before anything is looked at.
    expect(await post(signPayload({ ...(await heartbeat(device.id, 4, '1.0.0')), extra: 1 }, device.key))).toMatchObject({ status: 400, json: { error: 'invalid-payload' } });
    expect(await post(signPayload(await heartbeat(device.id, 4, '1.0.0', { healthChecks: { run: 1, failed: 2 } }), device.key))).toMatchObject({ status: 400, json: { error: 'invalid-payload' } });

    const stored = await env.fleet.heartbeatsOf(device.id);
    expect(stored.map((h) => h.counter)).toEqual([1]);
    expect(stored[0]!.metrics).toEqual({ 'app.queue': 3 });
    // The genuine failing heartbeat still goes through afterwards.
    expect(await client.postHeartbeat(failing, 3)).toEqual({ status: 'accepted', counter: 3 });
    expect((await env.fleet.heartbeatsOf(device.id)).map((h) => [h.counter, h.failed])).toEqual([[3, true], [1, false]]);
  });

  it('a device client sees the refusals as GatewayRefusedError with the code', async () => {
    const device = await enroll();
    const hb = signPayload(await heartbeat(device.id, 1, null), device.key);
    await client.postHeartbeat(hb, 1);
    await expect(client.postHeartbeat(hb, 1)).rejects.toSatisfy((e: unknown) => e instanceof GatewayRefusedError && e.code === 'nonce-used');
  });

  it('the store aggregates the accepted heartbeats per release, ring and window', async () => {
    const since = new Date(Date.now() - 1000);
    const devices = [await enroll(), await enroll(), await enroll(), await enroll()];
    await env.fleet.createRollout({ id: 'r-hb', hardwareId: HW, channel: 'stable', releaseVersion: '2.0.0', previousVersion: '1.0.0' });
    await env.fleet.assignDevices('r-hb', devices.slice(0, 2).map((d) => ({ deviceId: d.id, ring: 'canary' })), 'offer');
    await env.fleet.assignDevices('r-hb', devices.slice(2).map((d) => ({ deviceId: d.id, ring: 'fleet' })), 'hold');
    const send = async (i: number, counter: number, version: string, over: Partial<Heartbeat> = {}) =>
      client.postHeartbeat(signPayload(await heartbeat(devices[i]!.id, counter, version, over), devices[i]!.key), counter);
    await send(0, 1, '2.0.0');
    await send(1, 1, '2.0.0', { crashLoop: true, bootsSinceLast: 5 });
    await send(2, 1, '1.0.0', { healthChecks: { run: 1, failed: 1 } });
    await send(3, 1, '1.0.0');
    await send(3, 2, '1.0.0');
    // A refused replay leaves the aggregates as they were.
    await expect(send(3, 2, '1.0.0', { healthChecks: { run: 1, failed: 1 } })).rejects.toThrow(/stale-counter/);

    expect(await env.fleet.heartbeatAggregates('r-hb', { since })).toEqual([
      { releaseVersion: '2.0.0', ring: 'canary', observed: 2, failures: 1, crashLoops: 1 },
      { releaseVersion: '1.0.0', ring: 'fleet', observed: 2, failures: 1, crashLoops: 0 },
    ]);
    // Cohorts count heartbeat windows: device 3's two count twice.
    expect(await env.fleet.ringCohorts('r-hb', 'canary', { since })).toEqual({ release: { observed: 2, failures: 1 }, control: { observed: 3, failures: 1 }, postCommitOnly: 1, silent: { release: 0, control: 0 } });
    expect(await env.fleet.heartbeatAggregates('r-hb', { since: new Date(Date.now() + 60_000) })).toEqual([]);
  });

  it('simulated devices send heartbeats with seeded background noise: same seed, same failures, on both releases', async () => {
    const sim = await ProtocolFleet.enroll({
      count: 120, hardwareId: HW, channel: 'stable', gatewayUrl: env.gateway.url, idPrefix: 'noise',
      preauthorize: (devices) => preauthorizeIn(env.fleet, devices),
      // Heartbeats resolve no manifest: the trust root is never read here.
      trustRoot: {} as LocalTrustRootJSON,
      factory: { version: '1.0.0', imageSha256: SHA, securityVersion: 1 },
      concurrency: 8,
    });
    const release = { version: '2.0.0', imageSha256: 'd'.repeat(64), securityVersion: 1 };
    for (const d of sim.devices.slice(0, 40)) d.current = release;
    await env.fleet.createRollout({ id: 'r-noise', hardwareId: HW, channel: 'stable', releaseVersion: '2.0.0', previousVersion: '1.0.0' });
    await env.fleet.assignDevices('r-noise', sim.devices.map((d, i) => ({ deviceId: d.id, ring: i < 40 ? 'canary' : 'fleet' })), 'offer');
    const since = new Date(Date.now() - 1000);
    // What the same seed gives, worked out without the gateway.
    const expected = backgroundNoise(0.1, 42);
    const failing = new Set<string>();
    const failedWindows = new Map<string, number>();
    for (let w = 0; w < 2; w++) {
      for (const d of sim.devices) {
        if (!expected(d).healthFailed) continue;
        failing.add(d.id);
        failedWindows.set(d.id, (failedWindows.get(d.id) ?? 0) + 1);
      }
    }
    const noise = backgroundNoise(0.1, 42);
    await sim.heartbeats(noise);
    await sim.heartbeats(noise);
    const cohorts = await env.fleet.ringCohorts('r-noise', 'canary', { since });
    // Two windows per device; a device failing both counts two failed windows.
    const windowsFailed = (devices: typeof sim.devices) => devices.reduce((sum, d) => sum + (failedWindows.get(d.id) ?? 0), 0);
    expect(cohorts.release).toEqual({ observed: 80, failures: windowsFailed(sim.devices.slice(0, 40)) });
    expect(cohorts.control).toEqual({ observed: 160, failures: windowsFailed(sim.devices.slice(40)) });
    // About 1 − 0.9² = 19% of devices fail at least one of two windows.
    expect(failing.size).toBeGreaterThan(8);
    expect(failing.size).toBeLessThan(40);
  });
});
