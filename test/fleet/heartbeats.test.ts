// Heartbeats in the fleet store, on PGlite and (when its binaries are present) PostgreSQL: the
// replay rules (fresh nonce, rising counter of their own), and the aggregates a rollout reads:
// per release and ring in a window, and a ring's release cohort against its control cohort.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetStore } from '../../fleet/fleet-store.js';
import type { Heartbeat } from '../../schemas/device-api.js';
import { generateDeviceKey, signPayload } from '../../schemas/device-envelope.js';
import { onPgliteAndPostgres } from '../support/fleet-backends.js';
import { warnIfPostgresMissing } from '../support/postgres.js';

warnIfPostgresMissing('fleet heartbeats');

const SHA = 'b'.repeat(64);

function heartbeatSuite(engine: string, openUrl: () => Promise<string>) {
  describe(`heartbeats on ${engine}`, () => {
    let store: FleetStore;
    beforeAll(async () => {
      store = await FleetStore.open(await openUrl());
    });
    afterAll(async () => store?.close());

    let seq = 0;
    async function enroll(): Promise<string> {
      const key = generateDeviceKey('ed25519');
      const id = `hb-${engine}-${++seq}`;
      await store.enrollDevice({ id, hardwareId: 'gw-hb', channel: 'stable', labels: {}, publicKeyPem: key.publicKeyPem, keyAlgorithm: key.algorithm });
      return id;
    }
    const counters = new Map<string, number>();
    async function beat(deviceId: string, releaseVersion: string | null, over: Partial<Heartbeat> = {}) {
      const counter = over.counter ?? (counters.get(deviceId) ?? 0) + 1;
      counters.set(deviceId, Math.max(counter, counters.get(deviceId) ?? 0));
      const nonce = over.nonce ?? (await store.issueNonce(deviceId, 60)).nonce;
      const hb: Heartbeat = {
        type: 'heartbeat', deviceId, releaseVersion, imageSha256: SHA, slot: 'A', bootCount: 3, bootsSinceLast: 0, crashLoop: false, uptimeSeconds: 600,
        healthChecks: { run: 2, failed: 0 }, failedChecks: [], metrics: { 'queue.depth': 4 }, windowSeconds: 300, sentAt: new Date().toISOString(), ...over, counter, nonce,
      };
      return { hb, outcome: await store.storeHeartbeat(hb, signPayload(hb, generateDeviceKey('ed25519'))) };
    }
    const failing = { healthChecks: { run: 2, failed: 1 }, failedChecks: ['app'] };
    async function reportAbout(deviceId: string, releaseVersion: string, state: 'committed' | 'failed' | 'rolled-back', failureKind?: 'health' | 'boot') {
      const { nonce } = await store.issueNonce(deviceId, 60);
      const report = {
        type: 'report' as const, deviceId, releaseVersion, imageSha256: SHA, slot: 'B' as const, bootCount: 2, state, ...(failureKind ? { failureKind } : {}),
        metrics: { crashCount: 0, uptimeSeconds: 1, freeMemoryBytes: 1 }, custom: {}, createdAt: new Date().toISOString(), counter: 1, nonce,
      };
      expect((await store.storeReport(report, signPayload(report, generateDeviceKey('ed25519')))).kind).toBe('accepted');
    }
    /** Moves a device's heartbeats back in time, as if it had sent them minutes ago. */
    async function backdate(deviceId: string, minutes: number) {
      await store.db.query(`UPDATE heartbeats SET received_at = now() - make_interval(mins => $2) WHERE device_id = $1`, [deviceId, minutes]);
    }

    it('stores a heartbeat once: a used nonce or a counter not above the last changes nothing', async () => {
      const id = await enroll();
      const first = await beat(id, '1.0.0');
      expect(first.outcome).toEqual({ kind: 'accepted', counter: 1 });
      expect(await beat(id, '1.0.0', { counter: 2, nonce: first.hb.nonce })).toMatchObject({ outcome: { kind: 'nonce-rejected', reason: 'used' } });
      expect((await beat(id, '1.0.0', { counter: 1 })).outcome).toEqual({ kind: 'stale-counter', lastCounter: 1 });
      const stored = await store.heartbeatsOf(id);
      expect(stored).toHaveLength(1);
      expect(stored[0]).toMatchObject({ counter: 1, releaseVersion: '1.0.0', failed: false, metrics: { 'queue.depth': 4 } });
      // Its own sequence: reports keep theirs.
      expect((await store.getDeviceWithState(id))!.state.lastCounter).toBe(0);
      // Old heartbeats are pruned; the counter stays, so a replay is still refused.
      await store.db.query(`UPDATE heartbeats SET received_at = now() - interval '40 days' WHERE device_id = $1`, [id]);
      expect(await store.pruneHeartbeats()).toBeGreaterThanOrEqual(1);
      expect(await store.heartbeatsOf(id)).toEqual([]);
      expect((await beat(id, '1.0.0', { counter: 1 })).outcome).toEqual({ kind: 'stale-counter', lastCounter: 1 });
    });

    it('aggregates per release and ring in a window; the control is the rollout devices on another release', async () => {
      const [c1, c2, c3, f1, f2, f3, outsider] = [await enroll(), await enroll(), await enroll(), await enroll(), await enroll(), await enroll(), await enroll()];
      const rolloutId = `r-hb-${engine}`;
      await store.createRollout({ id: rolloutId, hardwareId: 'gw-hb', channel: 'stable', releaseVersion: '2.0.0', previousVersion: '1.0.0' });
      await store.assignDevices(rolloutId, [c1, c2, c3].map((deviceId) => ({ deviceId, ring: 'canary' })), 'offer');
      await store.assignDevices(rolloutId, [f1, f2, f3].map((deviceId) => ({ deviceId, ring: 'fleet' })), 'hold');

      // f3 heartbeated only before the window.
      await beat(f3, '1.0.0', failing);
      await backdate(f3, 60);
      const since = new Date(Date.now() - 600_000);

      // Canary on the release: c1 healthy then failing (and it reported the failure), c2 failing with no report.
      await beat(c1, '2.0.0');
      await beat(c1, '2.0.0', failing);
      await reportAbout(c1, '2.0.0', 'failed', 'health');
      await beat(c2, '2.0.0', failing);
      // Still on the previous release: c3 (canary, not yet installed), f1 crash-looping, f2 healthy twice.
      await beat(c3, '1.0.0');
      await beat(f1, '1.0.0', { crashLoop: true, bootsSinceLast: 4 });
      await beat(f2, '1.0.0');
      await beat(f2, '1.0.0');
      // Not in the rollout: never counted.
      await beat(outsider, '1.0.0', failing);

      expect(await store.heartbeatAggregates(rolloutId, { since })).toEqual([
        { releaseVersion: '1.0.0', ring: 'canary', observed: 1, failures: 0, crashLoops: 0 },
        { releaseVersion: '2.0.0', ring: 'canary', observed: 2, failures: 2, crashLoops: 0 },
        { releaseVersion: '1.0.0', ring: 'fleet', observed: 2, failures: 1, crashLoops: 1 },
      ]);
      // Cohorts count heartbeat windows: c1's two and c2's one on the release; c3, f1 and f2's two off it.
      expect(await store.ringCohorts(rolloutId, 'canary', { since })).toEqual({
        release: { observed: 3, failures: 2 },
        control: { observed: 4, failures: 1 },
        postCommitOnly: 1,
        silent: { release: 0, control: 0 },
      });
      // The earlier window holds only f3's heartbeat; a window that ended before everything is empty.
      const hourAgo = new Date(Date.now() - 2 * 3_600_000);
      expect(await store.heartbeatAggregates(rolloutId, { since: hourAgo, until: since })).toEqual([{ releaseVersion: '1.0.0', ring: 'fleet', observed: 1, failures: 1, crashLoops: 0 }]);
      expect(await store.ringCohorts(rolloutId, 'fleet', { since: hourAgo, until: new Date(Date.now() - 1.9 * 3_600_000) })).toEqual({
        release: { observed: 0, failures: 0 },
        control: { observed: 0, failures: 0 },
        postCommitOnly: 0,
        silent: { release: 0, control: 0 },
      });
    });

    it('a device that tried the release and fell back is exposed, not part of the control', async () => {
      const [ringDevice, fellBack, control] = [await enroll(), await enroll(), await enroll()];
      const rolloutId = `r-hb-exposed-${engine}`;
      await store.createRollout({ id: rolloutId, hardwareId: 'gw-hb', channel: 'stable', releaseVersion: '3.0.0', previousVersion: '2.0.0' });
      await store.assignDevices(rolloutId, [ringDevice, fellBack].map((deviceId) => ({ deviceId, ring: 'canary' })), 'offer');
      await store.assignDevices(rolloutId, [{ deviceId: control, ring: 'fleet' }], 'hold');
      const since = new Date(Date.now() - 1000);
      await reportAbout(fellBack, '3.0.0', 'rolled-back', 'boot');
      await beat(ringDevice, '3.0.0');
      await beat(fellBack, '2.0.0');
      await beat(control, '2.0.0', failing);
      expect(await store.ringCohorts(rolloutId, 'canary', { since })).toEqual({ release: { observed: 1, failures: 0 }, control: { observed: 1, failures: 1 }, postCommitOnly: 0, silent: { release: 0, control: 0 } });
    });

    it('with silentAfter, devices that stopped heartbeating are silent failures, on the release and in the control alike', async () => {
      const [onRelease, wentSilent, silentAfterCommit, justCommitted, control, silentControl] = [await enroll(), await enroll(), await enroll(), await enroll(), await enroll(), await enroll()];
      const rolloutId = `r-hb-silent-${engine}`;
      await store.createRollout({ id: rolloutId, hardwareId: 'gw-hb', channel: 'stable', releaseVersion: '4.0.0', previousVersion: '3.0.0' });
      await store.assignDevices(rolloutId, [onRelease, wentSilent, silentAfterCommit, justCommitted].map((deviceId) => ({ deviceId, ring: 'canary' })), 'offer');
      await store.assignDevices(rolloutId, [control, silentControl].map((deviceId) => ({ deviceId, ring: 'fleet' })), 'hold');
      const since = new Date(Date.now() - 3_600_000);
      // Silent for 20 minutes: one on the release, one that committed it and never heartbeated on it, one control.
      await beat(wentSilent, '4.0.0');
      await beat(silentAfterCommit, '3.0.0');
      await beat(silentControl, '3.0.0');
      for (const id of [wentSilent, silentAfterCommit, silentControl]) await backdate(id, 20);
      await reportAbout(silentAfterCommit, '4.0.0', 'committed');
      // Heard from a minute ago or now: not silent. justCommitted has no heartbeat on the release yet: not in either cohort.
      await beat(onRelease, '4.0.0');
      await beat(justCommitted, '3.0.0');
      await backdate(justCommitted, 1);
      await reportAbout(justCommitted, '4.0.0', 'committed');
      await beat(control, '3.0.0');

      // Each silent device missed four of its declared 300 s windows in 20 minutes: four failed windows.
      // Release: onRelease 1 + wentSilent 1 + 4 + silentAfterCommit 4; control: control 1 + silentControl 1 + 4.
      expect(await store.ringCohorts(rolloutId, 'canary', { since }, { silentAfterSeconds: 600 })).toEqual({
        release: { observed: 10, failures: 8 },
        control: { observed: 6, failures: 4 },
        postCommitOnly: 2,
        silent: { release: 2, control: 1 },
      });
      // Without silentAfter silence is not counted (and a device never heard on the release is not in its cohort).
      expect(await store.ringCohorts(rolloutId, 'canary', { since })).toEqual({
        release: { observed: 2, failures: 0 },
        control: { observed: 2, failures: 0 },
        postCommitOnly: 0,
        silent: { release: 0, control: 0 },
      });
      // Judged at the window's end: a window ending 15 minutes ago sees nobody silent yet.
      expect((await store.ringCohorts(rolloutId, 'canary', { since, until: new Date(Date.now() - 15 * 60_000) }, { silentAfterSeconds: 600 })).silent).toEqual({ release: 0, control: 0 });
    });
  });
}

onPgliteAndPostgres('ota-heartbeats-pglite-', heartbeatSuite);
