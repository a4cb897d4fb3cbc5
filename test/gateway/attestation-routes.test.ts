// Remote attestation end to end: devices with a software TPM (swtpm) against the real gateway over
// HTTP, releases from the real pipeline (their manifests list the expected boot measurement).
// Admission with a TPM-held key, a clean quote giving a normal standing for the policy's 24 h, a
// tampered slot quarantined and offered only the last good release, and an operator's release.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkInOnce } from '../../device-client/agent/checkin.js';
import { deviceKeyPath, enrollDevice } from '../../device-client/agent/enroll.js';
import { GatewayClient } from '../../device-client/gateway/gateway-client.js';
import { attestIfDue } from '../../device-client/tpm/attest-due.js';
import { createSimDevice } from '../support/device-sim.js';
import { deviceStanding } from '../../gateway/attestation-gate.js';
import { startTestGateway, type TestGateway } from '../support/device-gateway.js';
import { DEVICE_HARDWARE, publishSampleReleases, type PublishedFixture } from '../support/device-releases.js';
import { createTpmDevice, FAST_AGENT, TEST_POLICY, type TpmSimDevice } from '../support/attesting-device.js';
import { startSoftwareTpm, swtpmAvailable, type SoftwareTpm } from '../support/swtpm.js';

const POLICY = TEST_POLICY;
const FAST = FAST_AGENT;

describe.skipIf(!swtpmAvailable('attestation end to end'))('remote attestation against the gateway (swtpm)', () => {
  let root: string;
  let fixture: PublishedFixture;
  let gw: TestGateway;
  let device: TpmSimDevice;
  let looseTpm: SoftwareTpm | undefined;
  const check = async () => checkInOnce(await device.sim.open(), FAST);

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'ota-attestation-'));
    fixture = await publishSampleReleases(join(root, 'pipeline'), [
      { version: '1.0.0', securityVersion: 1 },
      { version: '1.0.1', securityVersion: 1 },
    ]);
    gw = await startTestGateway(join(root, 'gw'), fixture.storeDir, { attestation: POLICY });
  }, 400_000);

  afterAll(async () => {
    await gw?.close();
    await device?.tpm.stop();
    await looseTpm?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('admits the device with its TPM-held key (no key file) and registers its AK once', async () => {
    device = await createTpmDevice(join(root, 'd1'), fixture, gw, 'tpm-sim-1');
    const enrolled = await gw.fleet.getDevice('tpm-sim-1');
    expect(enrolled?.keyAlgorithm).toBe('ecdsa-p256-sha256');
    await expect(stat(deviceKeyPath(device.sim.config.stateDir))).rejects.toMatchObject({ code: 'ENOENT' });
    const ak = await gw.fleet.getAttestationKey('tpm-sim-1');
    expect(ak?.akQualifiedName).toMatch(/^000b[0-9a-f]{64}$/);
    expect((await deviceStanding(gw.fleet, POLICY, enrolled!)).standing).toBe('pending');
    // The manifests of the releases list the boot measurement the quote is compared with.
    expect(fixture.releases['1.0.0']!.manifest.bootMeasurement).toMatchObject({ pcr: 16, bank: 'sha256' });
  });

  it('a clean quote: attested as 1.0.0, a normal standing for 24 h, and the normal offer (1.0.1)', async () => {
    expect(await device.attest()).toEqual({ status: 'attested', release: '1.0.0', standing: 'attested' });
    const standing = await deviceStanding(gw.fleet, POLICY, (await gw.fleet.getDevice('tpm-sim-1'))!);
    expect(standing.standing).toBe('attested');
    if (standing.standing === 'attested') expect(standing.until.getTime() - Date.now()).toBeGreaterThan(23.9 * 3600_000);
    const first = await check();
    expect(first).toMatchObject({ outcome: 'installed', install: { version: '1.0.1', slot: 'B' } });
    await device.sim.reboot(); // the simulated bootloader measures slot B
    expect((await check()).bootCheck).toMatchObject({ outcome: 'committed', version: '1.0.1' });
    expect(await device.attest()).toMatchObject({ status: 'attested', release: '1.0.1' });
  });

  it('a tampered slot: PCR_UNEXPECTED, quarantined with the PCR and expected values, offered only the last good release (1.0.0) even in a rollout', async () => {
    const slotB = device.sim.config.slots.B;
    const bytes = await readFile(slotB);
    bytes[1000] ^= 0xff;
    await writeFile(slotB, bytes);
    await device.sim.reboot();
    await check();
    const refused = await device.attest();
    expect(refused).toMatchObject({ status: 'refused', code: 'PCR_UNEXPECTED', standing: 'quarantine' });
    const [quarantine] = await gw.fleet.listQuarantines();
    expect(quarantine).toMatchObject({ deviceId: 'tpm-sim-1', code: 'ATTESTATION_FAILED:PCR_UNEXPECTED', remediationVersion: '1.0.0' });
    expect(quarantine!.evidence).toMatchObject({ pcr: 16, expected: expect.arrayContaining([`1.0.0=${fixture.releases['1.0.0']!.manifest.bootMeasurement!.value}`]) });

    // A rollout that assigns it the newest release: the quarantine wins, only the remediation is offered.
    await gw.fleet.createRollout({ id: 'r-1', hardwareId: DEVICE_HARDWARE, channel: 'stable', releaseVersion: '1.0.1', previousVersion: '1.0.0' });
    await gw.fleet.assignDevices('r-1', [{ deviceId: 'tpm-sim-1', ring: 'canary' }], 'offer');
    const remediated = await check();
    expect(remediated.response).toMatchObject({ action: 'rollback', targetVersion: '1.0.0' });
    expect(remediated.outcome).toBe('rolled-back');
    await device.sim.reboot(); // back on slot A, which still holds the untouched 1.0.0
    await check();
    expect(await device.attest()).toMatchObject({ status: 'attested', release: '1.0.0', standing: 'quarantine' });
    expect((await check()).response).toMatchObject({ action: 'hold', reason: expect.stringContaining("waiting for an operator's") });
  });

  it('an operator releases it (recorded with who); with fresh clean evidence it has a normal standing again', async () => {
    const released = await gw.fleet.releaseQuarantine('tpm-sim-1', 'alice', 'reflashed slot B');
    expect(released).toMatchObject({ releasedBy: 'alice', releaseNote: 'reflashed slot B' });
    expect(await gw.fleet.listQuarantines()).toEqual([]);
    expect(await device.attest()).toMatchObject({ status: 'attested', release: '1.0.0', standing: 'attested' });
    expect((await check()).response?.action).not.toBe('hold');
  });

  it("the agent's schedule registers the AK once and sends a quote only when one is due", async () => {
    looseTpm = await startSoftwareTpm(join(root, 'd2', 'tpm'));
    const sim = await createSimDevice(join(root, 'd2', 'device'), fixture, { factory: fixture.releases['1.0.0']!, tpm: looseTpm, config: { deviceId: 'tpm-sim-2', gatewayUrl: gw.url } });
    await enrollDevice(sim.config, { token: await gw.tokenFor('tpm-sim-2') });
    const client = new GatewayClient(gw.url);
    expect(await attestIfDue(sim.config, client)).toEqual({ kind: 'attested', answer: { status: 'attested', release: '1.0.0', standing: 'attested' } });
    expect(await gw.fleet.getAttestationKey('tpm-sim-2')).toBeDefined();
    expect(await attestIfDue(sim.config, client)).toEqual({ kind: 'not-due' });
    const later = new Date(Date.now() + (sim.config.tpm!.attestSeconds + 1) * 1000);
    expect(await attestIfDue(sim.config, client, later)).toMatchObject({ kind: 'attested' });
    expect((await gw.fleet.attestationHistory('tpm-sim-2')).length).toBe(2);
  });
});
