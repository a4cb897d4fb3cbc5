// Attack class: the device talking to something other than its fleet's gateway (issue 14, item 3),
// and the device side of mTLS. A device refuses a plain-HTTP gateway URL (unless the lab flag), an
// https gateway without a pinned fleet CA, and a gateway whose server certificate another CA issued
// (nothing past the handshake, no state change). Against the real mTLS gateway the agent enrolls,
// gets its certificate, installs a release with every request (downloads too) made under it, renews
// at 2/3 of the lifetime, and is refused on its next request once revoked.
import { normalizeSerial } from '../../fleet/certificates.js';
import { stat } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkInOnce, type AgentOptions } from '../../device-client/agent/checkin.js';
import { deviceCertificatePath, deviceGatewayClient, ensureDeviceCertificate, fleetCaPath, pinFleetCa } from '../../device-client/agent/device-certificate.js';
import { deviceKeyFor } from '../../device-client/agent/enroll.js';
import { createFleetCa } from '../../identity/fleet-ca.js';
import { AttackBench, ATTACK_RELEASES } from '../support/attack-device.js';
import { deviceSnapshot } from '../support/device-state-snapshot.js';
import { startMtlsGateway, type MtlsGateway } from '../support/mtls-gateway.js';
import { sharedSampleReleases } from '../support/shared-releases.js';

const TOKEN = 'mtls-device-token-0123456789';
const FAST: AgentOptions = { random: () => 0.5, enrollmentToken: TOKEN, metrics: async () => ({ bootCount: 1, metrics: { crashCount: 0, uptimeSeconds: 120, freeMemoryBytes: 64 << 20 }, custom: {} }) };
const DOWNLOAD = { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 50, stallTimeoutMs: 10_000 };

let bench: AttackBench;
let gateway: MtlsGateway;

beforeAll(async () => {
  bench = new AttackBench(await mkdtemp(join(tmpdir(), 'ota-attack-mtls-device-')), await sharedSampleReleases(ATTACK_RELEASES));
  gateway = await startMtlsGateway('ota-attack-mtls-device-gw-', TOKEN, { storeDir: bench.fixture.storeDir });
}, 400_000);

afterAll(async () => {
  await gateway?.close();
  if (bench) await rm(bench.root, { recursive: true, force: true });
});

/** A provisioned device on 1.0.0 that reaches `url` over TLS, pinning `caPem`. */
async function tlsDevice(id: string, url: string, caPem: string) {
  const sim = await bench.device({ config: { deviceId: id, gatewayUrl: url, transport: { insecurePlainHttp: false }, download: DOWNLOAD } });
  await pinFleetCa(sim.config.stateDir, caPem);
  return sim;
}

describe('the device refuses an untrusted transport', () => {
  it('refuses plain HTTP unless the lab flag is set, before sending anything', async () => {
    const sim = await bench.device({ config: { deviceId: 'mtls-plain', gatewayUrl: 'http://127.0.0.1:9', transport: { insecurePlainHttp: false } } });
    const before = await deviceSnapshot(sim);
    await expect(checkInOnce(await sim.open(), { ...FAST, bootCheck: false })).rejects.toMatchObject({ code: 'GATEWAY_PLAIN_HTTP_REFUSED' });
    expect(await deviceSnapshot(sim)).toEqual(before);
    expect(deviceGatewayClient({ ...sim.config, transport: { insecurePlainHttp: true } }).baseUrl).toBe('http://127.0.0.1:9');
  });

  it('refuses https without a pinned fleet CA', async () => {
    const sim = await bench.device({ config: { deviceId: 'mtls-unpinned', gatewayUrl: gateway.url, transport: { insecurePlainHttp: false } } });
    expect(() => deviceGatewayClient(sim.config)).toThrow(expect.objectContaining({ code: 'FLEET_CA_NOT_PINNED' }));
  });

  it('refuses a gateway whose server certificate another CA issued: no certificate, no nonce, no state change', async () => {
    const impostor = await startMtlsGateway('ota-attack-mtls-impostor-', TOKEN, { ca: await createFleetCa({ name: 'Impostor' }) });
    try {
      const sim = await tlsDevice('mtls-impostor', impostor.url, gateway.ca.root.certPem);
      const before = await deviceSnapshot(sim);
      const round = await checkInOnce(await sim.open(), { ...FAST, bootCheck: false });
      expect(round).toMatchObject({ outcome: 'offline', errorCode: 'GATEWAY_CERTIFICATE_UNTRUSTED' });
      expect(await deviceSnapshot(sim)).toEqual(before);
      expect(await impostor.fleet.listDevices()).toEqual([]);
    } finally {
      await impostor.close();
    }
  });
});

describe('the agent over mutual TLS', () => {
  it('enrolls, gets its certificate, installs with it, renews at 2/3 of its lifetime, and is refused once revoked', async () => {
    const sim = await tlsDevice('mtls-agent-1', gateway.url, gateway.ca.root.certPem);
    const round = await checkInOnce(await sim.open(), { ...FAST, bootCheck: false });
    expect(round.certificate).toMatchObject({ action: 'issued' });
    expect(round).toMatchObject({ outcome: 'installed' });
    for (const path of [deviceCertificatePath(sim.config.stateDir), fleetCaPath(sim.config.stateDir)]) expect((await stat(path)).mode & 0o777).toBe(0o600);
    const issued = await gateway.fleet.certificatesOf('mtls-agent-1');
    expect(issued.map((c) => c.serial)).toEqual([normalizeSerial(round.certificate!.serialNumber!)]);

    const client = deviceGatewayClient(sim.config);
    const key = await deviceKeyFor(sim.config);
    expect(await ensureDeviceCertificate(sim.config, client, key)).toMatchObject({ action: 'kept' });
    const later = new Date(Date.now() + 17 * 3600_000); // past 2/3 of 24 h
    const renewed = await ensureDeviceCertificate(sim.config, client, key, later);
    expect(renewed.action).toBe('renewed');
    expect(renewed.serialNumber).not.toBe(round.certificate!.serialNumber);

    await sim.reboot();
    expect(await gateway.fleet.revokeDevice('mtls-agent-1', 'decommissioned')).toBe(true);
    const refused = await checkInOnce(await sim.open(), { ...FAST, bootCheck: false });
    expect(refused.outcome).toBe('refused');
    expect(refused.error).toMatch(/device-revoked/);
  }, 120_000);
});
