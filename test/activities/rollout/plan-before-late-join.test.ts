// prepareRollout writes every targeted device's ring before the plan is open to late joiners: a
// device that checks in while the plan is being written (another gateway replica answering it) must
// not join a ring on its own first, or it lands in a ring the plan did not give it (a canary one
// device over its size). Real gateway (PGlite) and the rollout activities; the check-ins run at the
// moment each ring's batch of assignments is written.
import { describe, expect, it } from 'vitest';
import { rolloutActivities } from '../../../activities/rollout/rollout-activities.js';
import type { FleetStore } from '../../../fleet/index.js';
import { parsePolicy, ringTargets } from '../../../rollout/policy.js';
import { assignRings } from '../../../rollout/ring-assignment.js';
import { signedDeviceClient } from '../../support/signed-device.js';
import { publishStubRelease, writeStubIndex } from '../../support/stub-release.js';
import { useTempGateway } from '../../support/temp-gateway.js';

const HW = 'gw-plan-late-join';
const env = useTempGateway('ota-plan-late-join-', { releasePolicy: 'rollouts' });
const imageSha: Record<string, string> = {};
const devices = signedDeviceClient(() => ({ url: env.gateway.url, fleet: env.fleet }), HW, imageSha);

describe('prepareRollout and check-ins at the same time', () => {
  it('places every device in the ring the plan gives it', async () => {
    const entries: Array<Awaited<ReturnType<typeof publishStubRelease>>["entry"]> = [];
    for (const version of ['1.0.0', '1.1.0']) {
      const { entry, image } = await publishStubRelease(env.store, { hardwareId: HW, version, image: Buffer.alloc(50_000, version.charCodeAt(2)) });
      imageSha[version] = image.sha256;
      entries.push(entry);
    }
    await writeStubIndex(env.store, HW, entries);
    const fleet: Array<Awaited<ReturnType<typeof devices.enroll>>> = [];
    for (let i = 0; i < 20; i++) fleet.push(await devices.enroll(`pl-${String(i).padStart(2, '0')}`));
    for (const d of fleet) await devices.checkin(d, '1.0.0');

    // Every device checks in whenever a ring's assignments are about to be written.
    const racing = new Proxy(env.fleet, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target) as unknown;
        if (prop !== 'assignDevices') return typeof value === 'function' ? value.bind(target) : value;
        return async (...args: Parameters<FleetStore['assignDevices']>) => {
          for (const d of fleet) await devices.checkin(d, '1.0.0');
          return target.assignDevices(...args);
        };
      },
    });
    const policy = parsePolicy({
      target: { hardware: HW },
      rings: [
        { name: 'canary', size: { count: 2 }, bakeTime: '1s', minReports: 1, thresholds: { failureRate: 0.5, maxFailures: 5 }, onBreach: 'halt' },
        { name: 'fleet', size: { percent: 100 }, bakeTime: '1s', minReports: 1, thresholds: { failureRate: 0.5, maxFailures: 5 }, onBreach: 'halt' },
      ],
      exposureBudget: { percent: 100 },
      maxConcurrentInstalls: 10,
    });
    const rolloutId = 'r-plan-late-join';
    const activities = rolloutActivities({ fleet: async () => racing, store: () => env.store });
    const plan = await activities.prepareRollout({ rolloutId, hardwareId: HW, channel: 'stable', releaseVersion: '1.1.0', policy, requestedBy: 'test' });
    expect(plan.ringSizes).toEqual([2, 18]);

    const ids = fleet.map((d) => d.id);
    const expected = assignRings(rolloutId, ids.map((id) => ({ id, labels: {} })), ringTargets(policy, ids.length).map((target) => ({ target, labels: {} })));
    const { rows } = await env.fleet.db.query<{ device_id: string; ring: string }>('SELECT device_id, ring FROM rollout_assignments WHERE rollout_id = $1 ORDER BY device_id', [rolloutId]);
    const byRing = (ring: string) => rows.filter((r) => r.ring === ring).map((r) => r.device_id).sort();
    expect(byRing('canary')).toEqual([...expected[0]!].sort());
    expect(byRing('fleet')).toEqual([...expected[1]!].sort());
  });
});
