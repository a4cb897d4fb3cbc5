// The offer step's one statement (fleet/offer-facts.ts) answers what the five separate reads it
// replaces answer, on both engines, through a rollout's life: nothing; an active rollout with a
// target (joinable); an assignment; the rollout finished with a failure report of the device. The
// check-in's spend statement, which reads the same facts, answers the same.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDeviceKey, signPayload } from '../../schemas/device-envelope.js';
import { FleetStore } from '../../fleet/fleet-store.js';
import type { HealthReport } from '../../schemas/device-api.js';
import { onPgliteAndPostgres } from '../support/fleet-backends.js';
import { warnIfPostgresMissing } from '../support/postgres.js';

warnIfPostgresMissing('offer facts statement');

onPgliteAndPostgres('ota-offer-facts-', (engine, openUrl) => {
  describe(`offer facts on ${engine}`, () => {
    let store: FleetStore;
    beforeAll(async () => {
      store = await FleetStore.open(await openUrl());
    });
    afterAll(async () => store?.close());

    const HW = `hw-facts-${engine}`;
    const separately = async (device: { id: string; hardwareId: string; channel: string; labels: Record<string, string> }) => ({
      assignment: await store.openAssignmentFor(device.id),
      joinable: (await store.rolloutToJoin(device)) !== undefined,
      gated: await store.gatedVersions(device.hardwareId, device.channel),
      released: await store.rolledOutVersions(device),
      finishedFailures: await store.finishedRolloutFailures(device.id),
    });

    it('matches openAssignmentFor, rolloutToJoin, gatedVersions, rolledOutVersions and finishedRolloutFailures at every step', async () => {
      const key = generateDeviceKey('ecdsa-p256-sha256');
      const device = { id: `facts-${engine}`, hardwareId: HW, channel: 'stable', labels: { region: 'eu' } };
      const other = { ...device, id: `facts-us-${engine}`, labels: { region: 'us' } };
      for (const d of [device, other]) await store.enrollDevice({ ...d, publicKeyPem: key.publicKeyPem, keyAlgorithm: key.algorithm });
      // The check-in's spend statement reads the same facts (fleet/reports.ts), with its nonce spent.
      const withSpend = async (d: typeof device) => {
        const issued = await store.issueNonceIfAdmitted(d.id, 60);
        if (issued.kind !== 'issued') throw new Error('no nonce');
        const spent = await store.spendNonceRecordCheckinAndIssueNext(d.id, issued.nonce, { currentVersion: '1.0.0', imageSha256: 'a'.repeat(64), slot: 'A', securityVersion: 1 }, 60, d);
        if (spent.check !== 'ok') throw new Error(`not spent: ${spent.check}`);
        return spent.facts;
      };
      const same = async (expected: Partial<Awaited<ReturnType<typeof separately>>>) => {
        for (const d of [device, other]) {
          const apart = await separately(d);
          expect(await store.offerFacts(d)).toEqual(apart);
          expect(await withSpend(d)).toEqual(apart);
        }
        expect(await store.offerFacts(device)).toMatchObject(expected);
      };

      await same({ assignment: undefined, joinable: false, gated: new Set(), released: new Set(), finishedFailures: [] });
      await store.createRollout({ id: `r1-${engine}`, hardwareId: HW, channel: 'stable', releaseVersion: '2.0.0', previousVersion: '1.0.0' });
      await store.recordRingPlan(`r1-${engine}`, { region: 'eu' }, [{ name: 'all', size: { percent: 100 }, labels: {}, installDeadlineSeconds: 3600 }]);
      await same({ joinable: true, gated: new Set(['2.0.0']) });
      expect((await store.offerFacts(other)).joinable).toBe(false);

      await store.assignDevices(`r1-${engine}`, [{ deviceId: device.id, ring: 'all' }], 'offer');
      await same({ joinable: false, assignment: expect.objectContaining({ rolloutId: `r1-${engine}`, ring: 'all', action: 'offer', releaseVersion: '2.0.0' }) });

      const issued = await store.issueNonceIfAdmitted(device.id, 60);
      if (issued.kind !== 'issued') throw new Error('no nonce');
      const report: HealthReport = {
        type: 'report', deviceId: device.id, releaseVersion: '2.0.0', imageSha256: 'd'.repeat(64), slot: 'B', bootCount: 2, state: 'failed', failureKind: 'boot', detail: 'did not boot',
        metrics: { crashCount: 3, uptimeSeconds: 1, freeMemoryBytes: 1 }, custom: {}, createdAt: new Date().toISOString(), counter: 1, nonce: issued.nonce,
      };
      expect((await store.storeReport(report, signPayload(report, key))).kind).toBe('accepted');
      await store.setRolloutState(`r1-${engine}`, 'finished');
      await same({ assignment: undefined, gated: new Set(), released: new Set(['2.0.0']), finishedFailures: [expect.objectContaining({ rolloutId: `r1-${engine}`, releaseVersion: '2.0.0', kind: 'boot', state: 'failed', detail: 'did not boot' })] });
      expect((await store.offerFacts(other)).released).toEqual(new Set());
    });
  });
});
