// Posture drift at the real gateway (PGlite): signed heartbeats with posture open drift events
// against the desired state and the claimed release's manifest, a later clean heartbeat resolves
// them, older agents without posture keep working, oversize posture is refused and stores nothing;
// under gateway.drift.quarantineOn the device is quarantined (DRIFT:<kind>, with the event as
// evidence) and offered only its last good release, and without the policy it is not.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Heartbeat, Posture } from '../../schemas/device-api.js';
import { signPayload } from '../../schemas/device-envelope.js';
import { signedDeviceClient, type SignedDevice } from '../support/signed-device.js';
import { publishStubRelease, writeStubIndex } from '../support/stub-release.js';
import { useTempGateway, type TempGateway } from '../support/temp-gateway.js';
import { DEFAULT_ATTESTATION_POLICY } from '../../attestation/standing.js';
import { rolloutActivities } from '../../activities/rollout/rollout-activities.js';
import { parsePolicy } from '../../rollout/policy.js';

const HW = 'gw-drift';
const recording = useTempGateway('ota-drift-record-');
const enforcing = useTempGateway('ota-drift-enforce-', { attestation: DEFAULT_ATTESTATION_POLICY, drift: { quarantineOn: ['unknown-listening-port', 'unexpected-measurement'], remediation: 'last-good' } });
const imageSha: Record<string, string> = {};

const posture = (over: Partial<Posture> = {}): Posture => ({
  agentVersion: '0.1.0', bootMeasurement: null, trust: null, configDigest: 'c'.repeat(64), listening: ['tcp/22'], services: ['sshd'], truncated: false, ...over,
});

async function setup(env: TempGateway) {
  const entries = [];
  for (const version of ['1.0.0', '1.1.0']) {
    const { entry, image } = await publishStubRelease(env.store, { hardwareId: HW, version, image: Buffer.alloc(50_000, version.charCodeAt(2)) });
    imageSha[version] = image.sha256;
    entries.push(entry);
  }
  await writeStubIndex(env.store, HW, entries);
  await env.fleet.setDesiredState({ hardwareId: HW, ring: '', allowedPorts: ['tcp/22'], allowedServices: ['sshd'], configDigest: null, minAgentVersion: '0.1.0', updatedBy: 'test' });
}

/** Posts a signed heartbeat; returns the HTTP status and body. */
async function beat(env: TempGateway, device: SignedDevice & { hb?: number }, releaseVersion: string, p: Posture | undefined | Record<string, unknown>) {
  device.hb = (device.hb ?? 0) + 1;
  const nonce = ((await (await fetch(`${env.gateway.url}/v1/nonce?device=${device.id}`)).json()) as { nonce: string }).nonce;
  const hb = {
    type: 'heartbeat', deviceId: device.id, releaseVersion, imageSha256: imageSha[releaseVersion]!, slot: 'A', bootCount: 1, bootsSinceLast: 0, crashLoop: false, uptimeSeconds: 60,
    healthChecks: { run: 0, failed: 0 }, failedChecks: [], metrics: {}, ...(p && { posture: p }), windowSeconds: 60, counter: device.hb, nonce, sentAt: new Date().toISOString(),
  } as Heartbeat;
  const res = await fetch(`${env.gateway.url}/v1/heartbeats`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(signPayload(hb, device.key)) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('drift recorded, no quarantine policy', () => {
  const devices = signedDeviceClient(() => ({ url: recording.gateway.url, fleet: recording.fleet }), HW, imageSha);
  let device: SignedDevice;
  beforeAll(async () => {
    await setup(recording);
    device = await devices.enroll('drift-r-1');
  });

  it('a new listening port opens an event, seen again it stays one event, gone it is resolved; no quarantine', async () => {
    expect((await beat(recording, device, '1.1.0', posture())).status).toBe(200);
    expect(await recording.fleet.listDriftEvents({ deviceId: device.id })).toEqual([]);

    expect((await beat(recording, device, '1.1.0', posture({ listening: ['tcp/22', 'tcp/4444'] }))).status).toBe(200);
    expect((await beat(recording, device, '1.1.0', posture({ listening: ['tcp/22', 'tcp/4444'] }))).status).toBe(200);
    const [open] = await recording.fleet.listDriftEvents({ deviceId: device.id });
    expect(open).toMatchObject({ kind: 'unknown-listening-port', subject: 'tcp/4444', firstCounter: 2, lastCounter: 3, resolvedAt: null, detail: { port: 'tcp/4444', allowed: ['tcp/22'] } });
    expect(await recording.fleet.openQuarantineFor(device.id)).toBeUndefined();

    expect((await beat(recording, device, '1.1.0', posture())).status).toBe(200);
    expect(await recording.fleet.listDriftEvents({ deviceId: device.id })).toEqual([]);
    expect((await recording.fleet.listDriftEvents({ deviceId: device.id, all: true }))[0]).toMatchObject({ subject: 'tcp/4444', resolvedAt: expect.any(Date) });
  });

  it("a slot digest other than the claimed release's image is an unexpected measurement; the right one is not", async () => {
    expect((await beat(recording, device, '1.1.0', posture({ bootMeasurement: { source: 'slot-digest', value: imageSha['1.1.0']! } }))).status).toBe(200);
    expect(await recording.fleet.listDriftEvents({ deviceId: device.id })).toEqual([]);
    expect((await beat(recording, device, '1.1.0', posture({ bootMeasurement: { source: 'slot-digest', value: imageSha['1.0.0']! }, services: ['sshd', 'telnetd'], agentVersion: '0.0.9' }))).status).toBe(200);
    const kinds = (await recording.fleet.listDriftEvents({ deviceId: device.id })).map((e) => e.kind).sort();
    expect(kinds).toEqual(['agent-version-old', 'service-unexpected', 'unexpected-measurement']);
  });

  it('an older agent without posture is accepted and changes no drift event', async () => {
    const before = await recording.fleet.listDriftEvents({ deviceId: device.id, all: true });
    expect(await beat(recording, device, '1.1.0', undefined)).toMatchObject({ status: 200, body: { status: 'accepted' } });
    expect(await recording.fleet.listDriftEvents({ deviceId: device.id, all: true })).toEqual(before);
  });

  it('posture past its bounds is refused with invalid-payload (naming the field) and stores nothing', async () => {
    const before = await recording.fleet.heartbeatsOf(device.id, 100);
    const many = Array.from({ length: 300 }, (_, i) => `tcp/${i + 1}`);
    const refused = await beat(recording, device, '1.1.0', { ...posture(), listening: many });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: 'invalid-payload', detail: expect.stringContaining('posture.listening') });
    expect(await recording.fleet.heartbeatsOf(device.id, 100)).toEqual(before);
  });
});

describe('drift under gateway.drift.quarantineOn', () => {
  const devices = signedDeviceClient(() => ({ url: enforcing.gateway.url, fleet: enforcing.fleet }), HW, imageSha);
  let device: SignedDevice;
  let bystander: SignedDevice;
  beforeAll(async () => {
    await setup(enforcing);
    device = await devices.enroll('drift-q-1');
    bystander = await devices.enroll('drift-q-2');
  });

  it('a drift not named by the policy is recorded only', async () => {
    expect((await beat(enforcing, bystander, '1.1.0', posture({ services: ['sshd', 'telnetd'] }))).status).toBe(200);
    expect((await enforcing.fleet.listDriftEvents({ deviceId: bystander.id })).map((e) => e.kind)).toEqual(['service-unexpected']);
    expect(await enforcing.fleet.openQuarantineFor(bystander.id)).toBeUndefined();
  });

  it('an unknown listening port quarantines the device with the event as evidence; it is offered only its last good release', async () => {
    expect((await beat(enforcing, device, '1.0.0', posture())).status).toBe(200);
    expect((await beat(enforcing, device, '1.1.0', posture())).status).toBe(200);
    expect(await enforcing.fleet.openQuarantineFor(device.id)).toBeUndefined();
    expect((await beat(enforcing, device, '1.1.0', posture({ listening: ['tcp/22', 'tcp/31337'] }))).status).toBe(200);
    const quarantine = await enforcing.fleet.openQuarantineFor(device.id);
    expect(quarantine).toMatchObject({
      code: 'DRIFT:unknown-listening-port',
      remediationVersion: '1.0.0',
      evidence: { kind: 'unknown-listening-port', subject: 'tcp/31337', heartbeatCounter: 3, releaseVersion: '1.1.0', detail: { port: 'tcp/31337' } },
    });
    expect(quarantine!.reason).toContain('tcp/31337');
    const answer = await devices.checkin(device, '1.1.0');
    expect(answer).toMatchObject({ action: 'rollback', targetVersion: '1.0.0' });
    expect(answer.action === 'rollback' && answer.reason).toContain('DRIFT:unknown-listening-port');
    // The bystander is not held back.
    expect((await devices.checkin(bystander, '1.1.0')).action).not.toBe('rollback');
  });

  it('the drift resolving does not end the quarantine: an operator does; one quarantine at a time', async () => {
    expect((await beat(enforcing, device, '1.0.0', posture({ listening: ['tcp/22', 'tcp/31337', 'tcp/31338'] }))).status).toBe(200);
    expect(await enforcing.fleet.listQuarantines({ deviceId: device.id, all: true })).toHaveLength(1);
    expect((await beat(enforcing, device, '1.0.0', posture())).status).toBe(200);
    expect(await enforcing.fleet.listDriftEvents({ deviceId: device.id })).toEqual([]);
    expect(await enforcing.fleet.openQuarantineFor(device.id)).toMatchObject({ code: 'DRIFT:unknown-listening-port' });
    expect(await enforcing.fleet.releaseQuarantine(device.id, 'alice', 'closed the port')).toMatchObject({ releasedBy: 'alice' });
    expect((await devices.checkin(device, '1.0.0')).action).not.toBe('rollback');
  });
});

describe('remediation of a drift quarantine during a rollout', () => {
  const devices = signedDeviceClient(() => ({ url: enforcing.gateway.url, fleet: enforcing.fleet }), HW, imageSha);

  it('a device that never heartbeated before is sent back to the release it ran when the rollout assigned it', async () => {
    const device = await devices.enroll('drift-q-3', { region: 'lab' });
    await devices.checkin(device, '1.0.0');
    const ring = { name: 'all', size: { percent: 100 }, bakeTime: '1s', minReports: 1, thresholds: { failureRate: 0.9, maxFailures: 5 }, onBreach: 'halt' };
    const policy = parsePolicy({ target: { hardware: HW, labels: { region: 'lab' } }, rings: [ring], exposureBudget: { percent: 100 }, maxConcurrentInstalls: 10 });
    const activities = rolloutActivities({ fleet: async () => enforcing.fleet, store: () => enforcing.store });
    await activities.prepareRollout({ rolloutId: 'r-drift', hardwareId: HW, channel: 'stable', releaseVersion: '1.1.0', policy, requestedBy: 'test' });
    await activities.openRing('r-drift', 'all');
    expect(await devices.checkin(device, '1.0.0')).toMatchObject({ action: 'update', release: { version: '1.1.0' } });
    // It installs 1.1.0, and its slot does not measure as 1.1.0's image.
    expect((await beat(enforcing, device, '1.1.0', posture({ bootMeasurement: { source: 'slot-digest', value: 'f'.repeat(64) } }))).status).toBe(200);
    expect(await enforcing.fleet.openQuarantineFor(device.id)).toMatchObject({ code: 'DRIFT:unexpected-measurement', remediationVersion: '1.0.0', evidence: { detail: { measured: 'f'.repeat(64), expected: imageSha['1.1.0'] } } });
    expect(await devices.checkin(device, '1.1.0')).toMatchObject({ action: 'rollback', targetVersion: '1.0.0' });
  });
});
