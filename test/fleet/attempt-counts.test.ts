// Ring counts by attempts, time-outs by install deadline, the failures that block a re-offer, the
// operator's retry and the kept ring plan for late devices: the fleet store's SQL on both engines
// (embedded PGlite, and a throwaway PostgreSQL cluster when its binaries are present).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetStore, type NewRolloutRing } from '../../fleet/fleet-store.js';
import type { FailureKind, HealthReport, ReportState } from '../../schemas/device-api.js';
import { generateDeviceKey, signPayload } from '../../schemas/device-envelope.js';
import { onPgliteAndPostgres } from '../support/fleet-backends.js';

const SHA = 'c'.repeat(64);

function suite(engine: string, openUrl: () => Promise<string>) {
  describe(`attempt counts on ${engine}`, () => {
    let store: FleetStore;
    beforeAll(async () => {
      store = await FleetStore.open(await openUrl());
    });
    afterAll(async () => store?.close());

    let seq = 0;
    const counters = new Map<string, number>();
    async function enroll(hardwareId: string, labels: Record<string, string> = {}) {
      const key = generateDeviceKey('ed25519');
      const id = `att-${engine}-${++seq}`;
      await store.enrollDevice({ id, hardwareId, channel: 'stable', labels, publicKeyPem: key.publicKeyPem, keyAlgorithm: key.algorithm });
      return id;
    }
    async function report(deviceId: string, state: ReportState, failureKind?: FailureKind, releaseVersion = '2.0.0') {
      const counter = (counters.get(deviceId) ?? 0) + 1;
      counters.set(deviceId, counter);
      const { nonce } = await store.issueNonce(deviceId, 60);
      const body: HealthReport = {
        type: 'report', deviceId, releaseVersion, imageSha256: SHA, slot: 'B', bootCount: 1, state, ...(failureKind ? { failureKind } : {}),
        metrics: { crashCount: 0, uptimeSeconds: 1, freeMemoryBytes: 1 }, custom: {}, createdAt: '2026-01-01T00:00:00Z', counter, nonce,
      };
      expect((await store.storeReport(body, signPayload(body, generateDeviceKey('ed25519')))).kind).toBe('accepted');
    }
    const backdateOffer = (rolloutId: string, ids: string[], minutes: number) =>
      store.db.query(`UPDATE rollout_assignments SET offered_at = now() - make_interval(mins => $3) WHERE rollout_id = $1 AND device_id = ANY($2::text[])`, [rolloutId, ids, minutes]);

    it('counts each device once by its attempts: ever failed, committed clean, timed out past the deadline', async () => {
      const hw = `hw-count-${engine}`;
      const [retried, clean, silent, slow, noOffer, bricked] = await Promise.all([1, 2, 3, 4, 5, 6].map(() => enroll(hw)));
      const rolloutId = `count-${engine}`;
      await store.createRollout({ id: rolloutId, hardwareId: hw, channel: 'stable', releaseVersion: '2.0.0', previousVersion: '1.0.0' });
      await store.assignDevices(rolloutId, [retried, clean, silent, slow, noOffer, bricked].map((deviceId) => ({ deviceId: deviceId!, ring: 'canary' })));
      for (const id of [retried, clean, silent, slow, bricked]) await store.markOffered(rolloutId, id!);

      await report(retried!, 'failed', 'download');
      await report(retried!, 'committed'); // a retry that worked: the failure stays counted
      await report(clean!, 'downloading');
      await report(clean!, 'committed');
      await report(bricked!, 'downloading');
      await report(bricked!, 'installed'); // then never again
      // silent: offered, never reported; slow: offered recently; noOffer: never offered (never checked in).
      await backdateOffer(rolloutId, [retried!, clean!, silent!, bricked!], 45);
      await backdateOffer(rolloutId, [slow!], 5);

      const withDeadline = await store.ringReportCounts(rolloutId, 'canary', { installDeadlineSeconds: 30 * 60 });
      expect(withDeadline.outcomes).toEqual({ failed: 1, committed: 1, timedOut: 2 });
      expect(withDeadline.byState).toMatchObject({ committed: 2, installed: 1 }); // latest reports, unchanged
      expect(withDeadline.everFailedByKind).toMatchObject({ download: 1, 'timed-out': 2 });
      expect(withDeadline.byFailureKind['timed-out']).toBe(0);
      const none = await store.ringReportCounts(rolloutId, 'canary');
      expect(none.outcomes).toEqual({ failed: 1, committed: 1, timedOut: 0 });
      expect(none.everFailedByKind['timed-out']).toBe(0);
      expect((await store.ringReportCounts(rolloutId, 'canary', { installDeadlineSeconds: 60 })).outcomes.timedOut).toBe(3); // slow too
      // markOffered keeps the first offer.
      await store.markOffered(rolloutId, silent!);
      expect((await store.ringReportCounts(rolloutId, 'canary', { installDeadlineSeconds: 30 * 60 })).outcomes.timedOut).toBe(2);
      await store.setRolloutState(rolloutId, 'finished');
    });

    it('lists the failures since assignment or the last retry; retry clears them (they stay counted) and restarts the deadline', async () => {
      const hw = `hw-retry-${engine}`;
      const [device, other] = [await enroll(hw), await enroll(hw)];
      const rolloutId = `retry-${engine}`;
      await store.createRollout({ id: rolloutId, hardwareId: hw, channel: 'stable', releaseVersion: '2.0.0', previousVersion: '1.0.0' });
      await report(device!, 'failed', 'boot'); // before assignment: not this rollout's
      await new Promise((r) => setTimeout(r, 20));
      await store.assignDevices(rolloutId, [{ deviceId: device!, ring: 'all' }, { deviceId: other!, ring: 'all' }]);
      expect(await store.attemptFailures(rolloutId, device!)).toEqual([]);
      await store.markOffered(rolloutId, device!);
      await report(device!, 'failed', 'install');
      await report(device!, 'committed', undefined, '1.0.0'); // another release
      expect((await store.attemptFailures(rolloutId, device!)).map((f) => [f.kind, f.state])).toEqual([['install', 'failed']]);

      expect(await store.retryDevice(device!, '9.9.9')).toEqual([]);
      expect(await store.retryDevice(device!, '2.0.0')).toEqual([{ rolloutId, releaseVersion: '2.0.0' }]);
      expect(await store.attemptFailures(rolloutId, device!)).toEqual([]);
      expect((await store.ringReportCounts(rolloutId, 'all')).outcomes.failed).toBe(1);
      const { rows } = await store.db.query<{ offered_at: Date | null }>('SELECT offered_at FROM rollout_assignments WHERE rollout_id = $1 AND device_id = $2', [rolloutId, device!]);
      expect(rows[0]?.offered_at).toBeNull();
      await store.setRolloutState(rolloutId, 'finished');
      expect(await store.retryDevice(device!)).toEqual([{ rolloutId, releaseVersion: '2.0.0' }]); // a finished rollout's block holds until a retry
      await store.setRolloutState(rolloutId, 'aborted');
      expect(await store.retryDevice(device!)).toEqual([]); // an aborted rollout's release is gated anyway
    });

    it('keeps the ring plan and finds the open rollout a late device joins', async () => {
      const hw = `hw-late-${engine}`;
      const member = await enroll(hw, { region: 'eu' });
      const rolloutId = `late-${engine}`;
      await store.createRollout({ id: rolloutId, hardwareId: hw, channel: 'stable', releaseVersion: '2.0.0', previousVersion: '1.0.0' });
      const plan: NewRolloutRing[] = [
        { name: 'canary', size: { count: 2 }, labels: {}, installDeadlineSeconds: 600 },
        { name: 'rest', size: { percent: 100 }, labels: { tier: 'b' }, installDeadlineSeconds: null },
      ];
      expect((await store.getRollout(rolloutId))?.exposureBudget).toBeNull();
      await store.recordRingPlan(rolloutId, { region: 'eu' }, plan, { percent: 30 });
      await store.recordRingPlan(rolloutId, { region: 'us' }, plan, { count: 1 }); // a re-run changes nothing
      expect((await store.getRollout(rolloutId))?.exposureBudget).toEqual({ percent: 30 });
      await store.assignDevices(rolloutId, [{ deviceId: member!, ring: 'canary' }], 'hold');
      await store.markRingOpened(rolloutId, 'canary');
      const rings = await store.rolloutRings(rolloutId);
      expect(rings.map((r) => ({ name: r.name, size: r.size, labels: r.labels, deadline: r.installDeadlineSeconds, assigned: r.assigned, open: r.openedAt !== null }))).toEqual([
        { name: 'canary', size: { count: 2 }, labels: {}, deadline: 600, assigned: 1, open: true },
        { name: 'rest', size: { percent: 100 }, labels: { tier: 'b' }, deadline: null, assigned: 0, open: false },
      ]);
      const device = (labels: Record<string, string>, id = 'x') => ({ id, hardwareId: hw, channel: 'stable', labels });
      expect((await store.rolloutToJoin(device({ region: 'eu', tier: 'b' })))?.id).toBe(rolloutId);
      await enroll(hw, { region: 'eu', tier: 'b' });
      await enroll(hw, { region: 'us' });
      expect(await store.targetedDevices(rolloutId)).toBe(2); // the member and the eu device
      expect(await store.rolloutToJoin(device({ region: 'us' }))).toBeUndefined();
      expect(await store.rolloutToJoin(device({ region: 'eu' }, member!))).toBeUndefined(); // already a member
      expect(await store.rolloutToJoin({ ...device({ region: 'eu' }), channel: 'beta' })).toBeUndefined();
      await store.setRolloutState(rolloutId, 'halted');
      expect((await store.rolloutToJoin(device({ region: 'eu' })))?.state).toBe('halted');
      await store.setRolloutState(rolloutId, 'rolling-back');
      expect(await store.rolloutToJoin(device({ region: 'eu' }))).toBeUndefined();
    });
  });
}

onPgliteAndPostgres('ota-attempt-counts-', suite);
