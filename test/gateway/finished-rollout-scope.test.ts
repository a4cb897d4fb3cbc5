// What a finished rollout frees, with --release-policy rollouts: real gateway (PGlite) and the
// rollout activities. A rollout of 2.0.0 targets region=eu; after it finishes, its release goes to
// devices its target selects, not to the rest of the hardware.
import { beforeAll, describe, expect, it } from 'vitest';
import { rolloutActivities } from '../../activities/rollout/rollout-activities.js';
import { parsePolicy } from '../../rollout/policy.js';
import { signedDeviceClient, type SignedDevice } from '../support/signed-device.js';
import { publishStubRelease, writeStubIndex } from '../support/stub-release.js';
import { useTempGateway } from '../support/temp-gateway.js';

const HW = 'gw-finished-scope';
const env = useTempGateway('ota-finished-scope-', { releasePolicy: 'rollouts' });
const imageSha: Record<string, string> = {};
const devices = signedDeviceClient(() => ({ url: env.gateway.url, fleet: env.fleet }), HW, imageSha);
let committed: SignedDevice;
let failed: SignedDevice;
let outside: SignedDevice;

beforeAll(async () => {
  const entries = [];
  for (const version of ['1.0.0', '2.0.0']) {
    const { entry, image } = await publishStubRelease(env.store, { hardwareId: HW, version, image: Buffer.alloc(100_000, version.charCodeAt(0)) });
    imageSha[version] = image.sha256;
    entries.push(entry);
  }
  await writeStubIndex(env.store, HW, entries);
  [committed, failed, outside] = [await devices.enroll('fs-eu-1', { region: 'eu' }), await devices.enroll('fs-eu-2', { region: 'eu' }), await devices.enroll('fs-us-1', { region: 'us' })];
  for (const d of [committed, failed, outside]) await devices.checkin(d, '1.0.0');
  const activities = rolloutActivities({ fleet: async () => env.fleet, store: () => env.store });
  const policy = parsePolicy({
    target: { hardware: HW, labels: { region: 'eu' } },
    rings: [{ name: 'all', size: { percent: 100 }, bakeTime: '1s', minReports: 1, thresholds: { failureRate: 0.9, maxFailures: 5 }, onBreach: 'halt' }],
    exposureBudget: { percent: 100 },
    maxConcurrentInstalls: 10,
  });
  await activities.prepareRollout({ rolloutId: 'r-fs', hardwareId: HW, channel: 'stable', releaseVersion: '2.0.0', policy, requestedBy: 'test' });
  await activities.openRing('r-fs', 'all');
  expect((await devices.checkin(committed, '1.0.0')).action).toBe('update');
  await devices.report(committed, '2.0.0', 'committed');
  expect((await devices.checkin(failed, '1.0.0')).action).toBe('update');
  await devices.report(failed, '2.0.0', 'failed', 'install');
  await activities.finishRollout('r-fs');
});

describe('a finished rollout', () => {
  it('frees its release only for devices its target selects', async () => {
    expect(await devices.checkin(outside, '1.0.0')).toMatchObject({ action: 'none' });
    const lateEu = await devices.enroll('fs-eu-3', { region: 'eu', site: 'x' });
    expect(await devices.checkin(lateEu, '1.0.0')).toMatchObject({ action: 'update', release: { version: '2.0.0' } });
  });

  it('still keeps its release from a device whose install of it failed, until `ota fleet retry`', async () => {
    const refused = await devices.checkin(failed, '1.0.0');
    expect(refused).toMatchObject({ action: 'none' });
    expect(refused.action === 'none' && refused.reason).toMatch(/2\.0\.0 failed on this device \(install.*rollout r-fs.*ota fleet retry fs-eu-2/);
    expect(await env.fleet.retryDevice(failed.id, '2.0.0')).toEqual([{ rolloutId: 'r-fs', releaseVersion: '2.0.0' }]);
    expect(await devices.checkin(failed, '1.0.0')).toMatchObject({ action: 'update', release: { version: '2.0.0' } });
  });
});
