// A rollback returns devices to the release they ran, not to the one published just below the
// rolled-out release: real gateway (PGlite) and the rollout activities. 1.0.0, 1.1.0 and 1.2.0 are
// published, most of the fleet runs 1.0.0 and one device 1.1.0; 1.2.0 breaches and rolls back.
import { describe, expect, it } from 'vitest';
import { rolloutActivities } from '../../activities/rollout/rollout-activities.js';
import { parsePolicy } from '../../rollout/policy.js';
import type { ReleaseIndexEntry } from '../../schemas/manifest.js';
import { signedDeviceClient } from '../support/signed-device.js';
import { publishStubRelease, writeStubIndex } from '../support/stub-release.js';
import { useTempGateway } from '../support/temp-gateway.js';

const HW = 'gw-rollback-target';
const env = useTempGateway('ota-rollback-target-', { releasePolicy: 'rollouts' });
const imageSha: Record<string, string> = {};
const devices = signedDeviceClient(() => ({ url: env.gateway.url, fleet: env.fleet }), HW, imageSha);

async function publishAll(versions: string[]) {
  const entries: ReleaseIndexEntry[] = [];
  for (const version of versions) {
    const { entry, image } = await publishStubRelease(env.store, { hardwareId: HW, version, image: Buffer.alloc(100_000, version.charCodeAt(2)) });
    imageSha[version] = image.sha256;
    entries.push(entry);
  }
  await writeStubIndex(env.store, HW, entries);
}

describe('rollback target', () => {
  it('is the release the targeted devices run, and each device returns to its own', async () => {
    await publishAll(['1.0.0', '1.1.0', '1.2.0']);
    const onOld = [await devices.enroll('rt-1'), await devices.enroll('rt-2'), await devices.enroll('rt-3')];
    const onMiddle = await devices.enroll('rt-4');
    for (const d of onOld) await devices.checkin(d, '1.0.0');
    await devices.checkin(onMiddle, '1.1.0');

    const activities = rolloutActivities({ fleet: async () => env.fleet, store: () => env.store });
    const policy = parsePolicy({
      target: { hardware: HW },
      rings: [{ name: 'all', size: { percent: 100 }, bakeTime: '1s', minReports: 1, thresholds: { failureRate: 0.5, maxFailures: 5 }, onBreach: 'rollback' }],
      exposureBudget: { percent: 100 },
      maxConcurrentInstalls: 10,
    });
    const plan = await activities.prepareRollout({ rolloutId: 'r-rt', hardwareId: HW, channel: 'stable', releaseVersion: '1.2.0', policy, requestedBy: 'test' });
    expect(plan).toMatchObject({ previousVersion: '1.0.0', rollbackAllowed: true });
    expect(plan.previousVersionNote).toMatch(/run 1\.0\.0 \(3\), 1\.1\.0 \(1\); rollback returns to 1\.0\.0/);

    await activities.openRing('r-rt', 'all');
    for (const d of [...onOld, onMiddle]) {
      expect((await devices.checkin(d, d === onMiddle ? '1.1.0' : '1.0.0')).action).toBe('update');
      await devices.report(d, '1.2.0', 'committed');
    }
    await activities.rollbackRollout('r-rt', 'breach');
    expect(await devices.checkin(onOld[0]!, '1.2.0')).toMatchObject({ action: 'rollback', targetVersion: '1.0.0', release: { version: '1.0.0' } });
    expect(await devices.checkin(onMiddle, '1.2.0')).toMatchObject({ action: 'rollback', targetVersion: '1.1.0', release: { version: '1.1.0' } });
  });
});
