// Quarantine against the real gateway (PGlite) and the rollout activities: a quarantined device is
// left out of a new rollout's rings and gets only its remediation release, while the rest of the
// fleet keeps rolling; released by an operator, it joins the normal offers again.
import { beforeAll, describe, expect, it } from 'vitest';
import { rolloutActivities } from '../../activities/rollout/rollout-activities.js';
import { parsePolicy } from '../../rollout/policy.js';
import { signedDeviceClient, type SignedDevice } from '../support/signed-device.js';
import { publishStubRelease, writeStubIndex } from '../support/stub-release.js';
import { useTempGateway } from '../support/temp-gateway.js';

const HW = 'gw-quarantine';
// Software keys are allowed (requireTpm false): only the quarantine opened below holds a device back.
const env = useTempGateway('ota-quarantine-offers-', { releasePolicy: 'rollouts', attestation: { maxEvidenceAgeSeconds: 86_400, requireTpm: false, graceSeconds: 600, remediation: 'last-good' } });
const imageSha: Record<string, string> = {};
const devices = signedDeviceClient(() => ({ url: env.gateway.url, fleet: env.fleet }), HW, imageSha);
let healthy: SignedDevice;
let suspect: SignedDevice;
let behindFloor: SignedDevice;

beforeAll(async () => {
  const entries = [];
  for (const version of ['0.9.0', '1.0.0', '1.1.0', '2.0.0']) {
    // 0.9.0 predates the anti-rollback floor (security version 1) the devices report.
    const securityVersion = version === '0.9.0' ? 0 : 1;
    const { entry, image } = await publishStubRelease(env.store, { hardwareId: HW, version, securityVersion, image: Buffer.alloc(100_000, version.charCodeAt(2)) });
    imageSha[version] = image.sha256;
    entries.push(entry);
  }
  await writeStubIndex(env.store, HW, entries);
  [healthy, suspect, behindFloor] = [await devices.enroll('q-eu-1', { region: 'eu' }), await devices.enroll('q-eu-2', { region: 'eu' }), await devices.enroll('q-eu-3', { region: 'eu' })];
  await devices.checkin(healthy, '1.1.0');
  await devices.checkin(suspect, '1.1.0');
  await devices.checkin(behindFloor, '1.1.0');
  await env.fleet.openQuarantine({ deviceId: behindFloor.id, code: 'ATTESTATION_FAILED:PCR_UNEXPECTED', reason: 'PCR 16 is not a release measurement', evidence: { pcr: 16 }, remediationVersion: '0.9.0' });
  await env.fleet.openQuarantine({ deviceId: suspect.id, code: 'ATTESTATION_FAILED:PCR_UNEXPECTED', reason: 'PCR 16 is not a release measurement', evidence: { pcr: 16 }, remediationVersion: '1.0.0' });
  // One ring of everyone in region eu: the whole fleet is targeted, the quarantined device included.
  const ring = { name: 'all', size: { percent: 100 }, bakeTime: '1s', minReports: 1, thresholds: { failureRate: 0.9, maxFailures: 5 }, onBreach: 'halt' };
  const policy = parsePolicy({ target: { hardware: HW, labels: { region: 'eu' } }, rings: [ring], exposureBudget: { percent: 100 }, maxConcurrentInstalls: 10 });
  const activities = rolloutActivities({ fleet: async () => env.fleet, store: () => env.store });
  await activities.prepareRollout({ rolloutId: 'r-q', hardwareId: HW, channel: 'stable', releaseVersion: '2.0.0', policy, requestedBy: 'test' });
  await activities.openRing('r-q', 'all');
});

describe('a quarantined device', () => {
  it('is left out of the rollout and offered only its remediation release; the rest of the fleet rolls on', async () => {
    expect(await env.fleet.openAssignmentFor(suspect.id)).toBeUndefined();
    expect(await devices.checkin(healthy, '1.1.0')).toMatchObject({ action: 'update', release: { version: '2.0.0' } });
    const answer = await devices.checkin(suspect, '1.1.0');
    expect(answer).toMatchObject({ action: 'rollback', targetVersion: '1.0.0', release: { version: '1.0.0' } });
    expect(answer.action === 'rollback' && answer.reason).toMatch(/quarantined since .*ATTESTATION_FAILED:PCR_UNEXPECTED/);
    // On the remediation release it waits for an operator: nothing else is offered.
    expect(await devices.checkin(suspect, '1.0.0')).toMatchObject({ action: 'hold', reason: expect.stringContaining('ota fleet quarantine release q-eu-2') });
  });

  it('is held, not offered, when its remediation release is below its security floor (it would refuse it)', async () => {
    const answer = await devices.checkin(behindFloor, '1.1.0');
    expect(answer).toMatchObject({ action: 'hold' });
    expect(answer.action === 'hold' && answer.reason).toMatch(/remediation release 0\.9\.0 has security version 0, below this device's floor 1/);
  });

  it('after an operator releases it, gets the normal offers again (a software key keeps a normal standing here)', async () => {
    expect(await env.fleet.releaseQuarantine(suspect.id, 'bob', null)).toMatchObject({ releasedBy: 'bob' });
    expect((await devices.checkin(suspect, '1.0.0')).action).not.toBe('hold');
  });
});
