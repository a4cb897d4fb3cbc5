// Attacks on attestation, each against the real gateway with devices on their own software TPMs:
// a wrong PCR, a replayed quote (an old nonce), a quote from another device's AK and a missing
// quote each end in quarantine with a distinct code (never a normal standing, never a rollout
// offer); wiping the agent's files does not lower the anti-rollback floor held by the TPM.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkInOnce } from '../../device-client/agent/checkin.js';
import { provisionDevice } from '../../device-client/agent/provision.js';
import { extendPcr, quotePcrs } from '../../device-client/tpm/tpm-pcr.js';
import { tpmDeviceKey } from '../../device-client/tpm/tpm-device-key.js';
import { TpmFloorCounter } from '../../device-client/tpm/tpm-floor.js';
import { deviceStanding } from '../../gateway/attestation-gate.js';
import { isNormalStanding } from '../../attestation/standing.js';
import { attestationKeyResponseSchema, attestationQuoteResponseSchema, quoteQualifyingData } from '../../schemas/attestation-api.js';
import { enrollDevice } from '../../device-client/agent/enroll.js';
import { GatewayClient } from '../../device-client/gateway/gateway-client.js';
import { activateCredential } from '../../device-client/tpm/tpm-activate.js';
import { ensureTpmKeys, readTpmPublicArea, TPM_HANDLES } from '../../device-client/tpm/tpm-keys.js';
import { createSimDevice } from '../support/device-sim.js';
import { signEnvelope } from '../../schemas/device-envelope.js';
import { ATTACK_RELEASES } from '../support/attack-device.js';
import { startTestGateway, type TestGateway } from '../support/device-gateway.js';
import type { PublishedFixture } from '../support/device-releases.js';
import { sharedSampleReleases } from '../support/shared-releases.js';
import { createTpmDevice, FAST_AGENT, TEST_POLICY, type TpmSimDevice } from '../support/attesting-device.js';
import { startSoftwareTpm, swtpmAvailable } from '../support/swtpm.js';

const POLICY = TEST_POLICY;
const FAST = FAST_AGENT;

describe.skipIf(!swtpmAvailable('attestation attacks'))('attacks on attestation (swtpm)', () => {
  let root: string;
  let fixture: PublishedFixture;
  let gw: TestGateway;
  let strictGw: TestGateway;
  const devices: TpmSimDevice[] = [];
  let seq = 0;
  const device = async (gateway = gw) => {
    const d = await createTpmDevice(join(root, `d${++seq}`), fixture, gateway, `attest-attack-${seq}`);
    devices.push(d);
    return d;
  };
  /** A quote in the device's own envelope (its TPM key), with the nonce it claims to answer. */
  const submit = async (d: TpmSimDevice, quote: Awaited<ReturnType<typeof quotePcrs>>, nonce: string) => {
    const payload = { type: 'attestation-quote', deviceId: d.attesting.deviceId, quote, nonce, sentAt: new Date().toISOString() };
    return d.client.postSigned('attestation quote', '/v1/attestation/quote', attestationQuoteResponseSchema, await signEnvelope(payload, await tpmDeviceKey(d.attesting.tpm)));
  };
  /** Quarantined: the code recorded, no normal standing, and a check-in offers no rollout release. */
  const expectQuarantined = async (d: TpmSimDevice, gateway: TestGateway, code: string, policy = POLICY) => {
    const enrolled = (await gateway.fleet.getDevice(d.attesting.deviceId))!;
    expect(isNormalStanding(await deviceStanding(gateway.fleet, policy, enrolled))).toBe(false);
    const answer = (await checkInOnce(await d.sim.open(), FAST)).response;
    expect(answer).toMatchObject({ action: 'hold' }); // no remediation known yet: nothing at all is offered
    expect((await gateway.fleet.openQuarantineFor(d.attesting.deviceId))?.code).toBe(code);
  };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'ota-attack-attestation-'));
    fixture = await sharedSampleReleases(ATTACK_RELEASES);
    gw = await startTestGateway(join(root, 'gw'), fixture.storeDir, { attestation: POLICY });
    strictGw = await startTestGateway(join(root, 'gw-strict'), fixture.storeDir, { attestation: { ...POLICY, graceSeconds: 1 } });
  }, 400_000);

  afterAll(async () => {
    for (const d of devices) await d.tpm.stop();
    await gw?.close();
    await strictGw?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('wrong PCR (the boot PCR extended with something else): PCR_UNEXPECTED', async () => {
    const d = await device();
    const nonce = await d.client.nonce(d.attesting.deviceId);
    await extendPcr(d.attesting.tpm, 16, 'ee'.repeat(32));
    const answer = await submit(d, await quotePcrs(d.attesting.tpm, [16], quoteQualifyingData(nonce)), nonce);
    expect(answer).toMatchObject({ status: 'refused', code: 'PCR_UNEXPECTED', standing: 'quarantine' });
    await expectQuarantined(d, gw, 'ATTESTATION_FAILED:PCR_UNEXPECTED');
  });

  it('replayed quote (made for an old nonce, sent with a fresh one): QUOTE_NONCE_MISMATCH', async () => {
    const d = await device();
    const old = await d.client.nonce(d.attesting.deviceId);
    const recorded = await quotePcrs(d.attesting.tpm, [16], quoteQualifyingData(old));
    expect(await submit(d, recorded, old)).toMatchObject({ status: 'attested' });
    // The same nonce twice: the gateway refuses the envelope itself.
    await expect(submit(d, recorded, old)).rejects.toMatchObject({ status: 409, code: 'nonce-used' });
    const fresh = await d.client.nonce(d.attesting.deviceId);
    expect(await submit(d, recorded, fresh)).toMatchObject({ status: 'refused', code: 'QUOTE_NONCE_MISMATCH', standing: 'quarantine' });
    const q = await gw.fleet.openQuarantineFor(d.attesting.deviceId);
    // Its one clean quote was on 1.0.0: that is the release it may return to.
    expect(q).toMatchObject({ code: 'ATTESTATION_FAILED:QUOTE_NONCE_MISMATCH', remediationVersion: '1.0.0' });
  });

  it("a quote from another device's AK: QUOTE_WRONG_AK", async () => {
    const [victim, other] = [await device(), await device()];
    const nonce = await victim.client.nonce(victim.attesting.deviceId);
    const borrowed = await quotePcrs(other.attesting.tpm, [16], quoteQualifyingData(nonce));
    expect(await submit(victim, borrowed, nonce)).toMatchObject({ status: 'refused', code: 'QUOTE_WRONG_AK', standing: 'quarantine' });
    await expectQuarantined(victim, gw, 'ATTESTATION_FAILED:QUOTE_WRONG_AK');
  });

  it('a missing quote (no answer within the grace): ATTESTATION_MISSING at its next check-in', async () => {
    const d = await device(strictGw);
    await new Promise((r) => setTimeout(r, 2500));
    await expectQuarantined(d, strictGw, 'ATTESTATION_MISSING', { ...POLICY, graceSeconds: 1 });
    expect(await strictGw.fleet.latestAttestation(d.attesting.deviceId)).toBeUndefined();
  });

  it("an AK registered with another TPM's EK stays pending-activation: its quotes do not count (AK_NOT_ACTIVATED, nothing recorded)", async () => {
    const owner = await device(); // its AK is active in its own TPM
    const tpm = await startSoftwareTpm(join(root, `lone-${++seq}`));
    try {
      const sim = await createSimDevice(join(root, `lone-${seq}-device`), fixture, { factory: fixture.releases['1.0.0']!, tpm, config: { deviceId: `attest-attack-lone-${seq}`, gatewayUrl: gw.url } });
      await enrollDevice(sim.config, { token: await gw.tokenFor(sim.config.deviceId) });
      const id = sim.config.deviceId;
      const client = new GatewayClient(gw.url);
      const signer = await tpmDeviceKey({ tcti: tpm.tcti });
      const own = await ensureTpmKeys({ tcti: tpm.tcti });
      const theirs = await ensureTpmKeys(owner.attesting.tpm);
      const registered = await client.postSigned('attestation key', '/v1/attestation/key', attestationKeyResponseSchema, await signEnvelope({
        type: 'attestation-key', deviceId: id, ak: { pem: theirs.attestationKey.pem, qualifiedName: theirs.attestationKey.qualifiedName },
        akPublic: (await readTpmPublicArea(owner.attesting.tpm, TPM_HANDLES.attestationKey)).toString('base64'), ekPem: own.endorsementKeyPem, nonce: await client.nonce(id), sentAt: new Date().toISOString(),
      }, signer));
      expect(registered.status).toBe('pending-activation');
      await expect(activateCredential({ tcti: tpm.tcti }, Buffer.from(registered.credential!, 'base64'))).rejects.toMatchObject({ code: 'TPM_TOOL_FAILED' });
      const nonce = await client.nonce(id);
      const quote = await quotePcrs(owner.attesting.tpm, [16], quoteQualifyingData(nonce)); // a perfectly good quote by that AK
      const payload = { type: 'attestation-quote', deviceId: id, quote, nonce, sentAt: new Date().toISOString() };
      expect(await client.postSigned('quote', '/v1/attestation/quote', attestationQuoteResponseSchema, await signEnvelope(payload, signer))).toMatchObject({ status: 'refused', code: 'AK_NOT_ACTIVATED' });
      expect(await gw.fleet.latestAttestation(id)).toBeUndefined();
      expect(await gw.fleet.getAttestationKey(id)).toMatchObject({ status: 'pending-activation' });
    } finally {
      await tpm.stop();
    }
  });

  it('wiping the agent files does not lower the floor the TPM counter holds', async () => {
    const d = await device();
    expect(await d.attest()).toMatchObject({ status: 'attested' });
    const installed = await checkInOnce(await d.sim.open(), FAST);
    expect(installed).toMatchObject({ outcome: 'installed', install: { version: '1.0.1' } });
    await d.sim.reboot();
    // Committing 1.0.1 raises the floor to its security version 2.
    expect((await checkInOnce(await d.sim.open(), FAST)).bootCheck).toMatchObject({ outcome: 'committed', version: '1.0.1' });
    const counter = new TpmFloorCounter({ tcti: d.attesting.tpm.tcti, floorIndex: d.sim.config.tpm!.floorIndex });
    expect(await counter.read()).toBe(2);
    await rm(d.sim.config.stateDir, { recursive: true, force: true }); // agent state, floor record, journal: all gone
    const wiped = await d.sim.open();
    await expect(provisionDevice(wiped, { slot: 'A', version: '1.0.0', securityVersion: 1, force: true })).rejects.toMatchObject({ code: 'SECURITY_FLOOR_LOWER_REFUSED' });
    const again = await provisionDevice(wiped, { slot: 'A', version: '1.0.0', length: fixture.releases['1.0.0']!.length, force: true });
    expect(again.state.securityVersion).toBe(2);
    expect((await wiped.agentState.read()).securityVersion).toBe(2);
    expect(await counter.read()).toBe(2);
  });
});
