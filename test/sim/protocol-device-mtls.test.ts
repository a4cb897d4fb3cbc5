// Simulated devices over mutual TLS: each enrolls, gets a short-lived certificate for its own key,
// checks in and sends a heartbeat under it, and renews it once 2/3 of its lifetime has passed.
import { normalizeSerial } from '../../fleet/certificates.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateDeviceKey } from '../../schemas/device-envelope.js';
import { ProtocolDevice } from '../../sim/protocol-device.js';
import { startMtlsGateway, type MtlsGateway } from '../support/mtls-gateway.js';

const TOKEN = 'sim-mtls-token-0123456789';
let env: MtlsGateway;

beforeAll(async () => {
  env = await startMtlsGateway('ota-sim-mtls-', TOKEN);
}, 60_000);
afterAll(() => env?.close());

const simDevice = (id: string) =>
  new ProtocolDevice({
    id, hardwareId: 'sim-mtls-hw', channel: 'stable', labels: {}, key: generateDeviceKey('ed25519'), gatewayUrl: env.url,
    factory: { version: '1.0.0', imageSha256: 'b'.repeat(64), securityVersion: 0 }, fleetCaPem: env.ca.root.certPem,
  });

it('enroll, certificate, check-in and heartbeat under it, renewal at 2/3 of the lifetime', async () => {
  const devices = ['sim-mtls-0', 'sim-mtls-1', 'sim-mtls-2'].map(simDevice);
  for (const device of devices) await device.enroll(TOKEN);
  for (const device of devices) {
    expect(await device.checkIn(() => ({ result: 'commit' }), async () => { throw new Error('no release is offered'); })).toEqual({ action: 'none' });
    await device.heartbeat();
    expect(device.certificatesIssued).toBe(1);
  }
  const first = devices[0]!.certificate!;
  // Not yet due: kept. Past 2/3 of 24 h: renewed, and the new one carries the next check-in.
  await devices[0]!.ensureCertificate(new Date(Date.now() + 3600_000));
  expect(devices[0]!.certificate!.serialNumber).toBe(first.serialNumber);
  await devices[0]!.ensureCertificate(new Date(Date.now() + 17 * 3600_000));
  expect(devices[0]!.certificate!.serialNumber).not.toBe(first.serialNumber);
  expect(await devices[0]!.checkIn(() => ({ result: 'commit' }), async () => { throw new Error('no release is offered'); })).toEqual({ action: 'none' });
  // The store keeps serials without leading zeros (normalizeSerial); a random serial may start with one.
  expect((await env.fleet.certificatesOf('sim-mtls-0')).map((c) => c.serial).sort()).toEqual([first.serialNumber, devices[0]!.certificate!.serialNumber].map(normalizeSerial).sort());
  expect(await env.fleet.heartbeatsOf('sim-mtls-1')).toHaveLength(1);
}, 60_000);
