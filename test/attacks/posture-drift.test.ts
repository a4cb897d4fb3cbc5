// End to end with the real agent (heartbeat with posture read from the real /proc) against a real
// gateway (PGlite, the published sample releases): a device that opens a new listening port raises
// a drift event; with gateway.drift.quarantineOn the device is quarantined (DRIFT:unknown-listening-port)
// and its check-in is held; without the policy the same drift is only recorded. Closing the port
// resolves the event, but only an operator ends the quarantine.
//
// /proc is the machine's: other processes (other test runs) open and close ports meanwhile, so the
// desired state is what the device's own first heartbeat reported, and assertions name this test's port.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ATTESTATION_POLICY } from '../../attestation/standing.js';
import { checkInOnce, type AgentOptions } from '../../device-client/agent/checkin.js';
import { enrollDevice, deviceKeyFor } from '../../device-client/agent/enroll.js';
import { GatewayClient } from '../../device-client/gateway/gateway-client.js';
import { sendHeartbeatIfDue } from '../../device-client/reports/heartbeat.js';
import { ATTACK_RELEASES } from '../support/attack-device.js';
import { startTestGateway, type TestGateway } from '../support/device-gateway.js';
import type { PublishedFixture } from '../support/device-releases.js';
import { createSimDevice, type SimDevice } from '../support/device-sim.js';
import { sharedSampleReleases } from '../support/shared-releases.js';

const FAST: AgentOptions = { random: () => 0.5, metrics: async () => ({ bootCount: 1, metrics: { crashCount: 0, uptimeSeconds: 120, freeMemoryBytes: 64 << 20 }, custom: {} }) };
const healthy = async () => ({ ok: true, checks: [] });

let root: string;
let fixture: PublishedFixture;
let enforcing: TestGateway;
let recording: TestGateway;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ota-attack-drift-'));
  fixture = await sharedSampleReleases(ATTACK_RELEASES);
  enforcing = await startTestGateway(join(root, 'gw'), fixture.storeDir, { attestation: DEFAULT_ATTESTATION_POLICY, drift: { quarantineOn: ['unknown-listening-port'], remediation: 'last-good' } });
  recording = await startTestGateway(join(root, 'gw-rec'), fixture.storeDir);
}, 400_000);

afterAll(async () => {
  await enforcing?.close();
  await recording?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

async function listen(): Promise<{ server: Server; port: string }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: `tcp/${(server.address() as { port: number }).port}` };
}

/** An enrolled device on the factory release 1.0.0, reading the real /proc, with its first heartbeat's ports as the desired state. */
async function device(gw: TestGateway, name: string): Promise<{ sim: SimDevice; beat: () => Promise<void> }> {
  const sim = await createSimDevice(join(root, name), fixture, { factory: fixture.releases['1.0.0']!, config: { deviceId: name, gatewayUrl: gw.url, labels: {}, posture: { procRoot: '/proc', services: ['sshd'] } } });
  await enrollDevice(sim.config, { token: await gw.tokenFor(name) });
  const key = await deviceKeyFor(sim.config);
  const beat = async () => {
    const outcome = await sendHeartbeatIfDue(await sim.open(), { client: new GatewayClient(gw.url), key, metrics: FAST.metrics!, health: healthy, force: true });
    expect(outcome.kind).toBe('sent');
  };
  await beat();
  const [first] = await gw.fleet.heartbeatsOf(name, 1);
  expect(first).toBeDefined();
  const sent = (await gw.fleet.db.query<{ payload: string }>('SELECT payload FROM heartbeats WHERE device_id = $1 ORDER BY counter DESC LIMIT 1', [name])).rows[0]!;
  const posture = JSON.parse(Buffer.from(sent.payload, 'base64').toString('utf8')).posture;
  // The agent measured its slot (no TPM): the factory image's digest, so no measurement drift.
  expect(posture.bootMeasurement).toEqual({ source: 'slot-digest', value: fixture.releases['1.0.0']!.sha256 });
  await gw.fleet.setDesiredState({ hardwareId: sim.config.hardwareId, ring: '', allowedPorts: posture.listening, allowedServices: ['sshd'], configDigest: null, minAgentVersion: null, updatedBy: 'test' });
  return { sim, beat };
}

describe('a device opens a new listening port', () => {
  it('with quarantineOn: a drift event, a quarantine that holds its check-in; closing the port resolves the event only', async () => {
    const { sim, beat } = await device(enforcing, 'drift-e2e-1');
    const { server, port } = await listen();
    try {
      await beat();
      const events = await enforcing.fleet.listDriftEvents({ deviceId: 'drift-e2e-1' });
      expect(events.find((e) => e.subject === port)).toMatchObject({ kind: 'unknown-listening-port', resolvedAt: null });
      const quarantine = await enforcing.fleet.openQuarantineFor('drift-e2e-1');
      expect(quarantine).toMatchObject({ code: 'DRIFT:unknown-listening-port', evidence: { kind: 'unknown-listening-port', releaseVersion: '1.0.0' } });
      // No other release seen on this device: nothing to return to, the check-in is held (no update offered).
      const round = await checkInOnce(await sim.open(), FAST);
      expect(round.response).toMatchObject({ action: 'hold', reason: expect.stringContaining('DRIFT:unknown-listening-port') });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await beat();
    expect((await enforcing.fleet.listDriftEvents({ deviceId: 'drift-e2e-1', all: true })).find((e) => e.subject === port)?.resolvedAt).toBeInstanceOf(Date);
    expect(await enforcing.fleet.openQuarantineFor('drift-e2e-1')).toBeDefined();
  }, 180_000);

  it('without the policy: the event is recorded and the device keeps getting its update', async () => {
    const { sim, beat } = await device(recording, 'drift-e2e-2');
    const { server, port } = await listen();
    try {
      await beat();
      expect((await recording.fleet.listDriftEvents({ deviceId: 'drift-e2e-2' })).some((e) => e.subject === port)).toBe(true);
      expect(await recording.fleet.openQuarantineFor('drift-e2e-2')).toBeUndefined();
      const round = await checkInOnce(await sim.open(), FAST);
      expect(round.response?.action).toBe('update');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }, 180_000);
});
