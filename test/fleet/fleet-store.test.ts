// The fleet store on both engines it supports: embedded PGlite and a real PostgreSQL cluster
// started for this file. The same suite runs on each.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDeviceKey, signPayload } from '../../schemas/device-envelope.js';
import { FleetStore } from '../../fleet/fleet-store.js';
import { applyMigrations, migrations } from '../../fleet/migrations.js';
import type { HealthReport, ReportState, FailureKind } from '../../schemas/device-api.js';
import { onPgliteAndPostgres } from '../support/fleet-backends.js';
import { warnIfPostgresMissing } from '../support/postgres.js';

warnIfPostgresMissing('fleet store');

const SHA = 'a'.repeat(64);

function fleetSuite(engine: string, openUrl: () => Promise<string>) {
  describe(`fleet store on ${engine}`, () => {
    let url: string;
    let store: FleetStore;
    beforeAll(async () => {
      url = await openUrl();
      store = await FleetStore.open(url);
    });
    afterAll(async () => store?.close());

    let seq = 0;
    async function enroll(labels: Record<string, string> = {}, hardwareId = 'gw-1000') {
      const key = generateDeviceKey(seq % 2 ? 'ed25519' : 'ecdsa-p256-sha256');
      const id = `dev-${engine}-${++seq}`;
      const outcome = await store.enrollDevice({ id, hardwareId, channel: 'stable', labels, publicKeyPem: key.publicKeyPem, keyAlgorithm: key.algorithm });
      expect(outcome.kind).toBe('created');
      return { id, key };
    }

    async function report(deviceId: string, counter: number, state: ReportState, releaseVersion = '2.0.0', failureKind?: FailureKind) {
      const { nonce } = await store.issueNonce(deviceId, 60);
      const body: HealthReport = {
        type: 'report', deviceId, releaseVersion, imageSha256: SHA, slot: 'B', bootCount: 1, state, ...(failureKind ? { failureKind } : {}),
        metrics: { crashCount: 0, uptimeSeconds: 10, freeMemoryBytes: 1 << 20 }, custom: { temp: 41 }, createdAt: '2026-01-01T00:00:00Z', counter, nonce,
      };
      // The store keeps the envelope but does not verify it: the gateway does, before storing.
      return store.storeReport(body, signPayload(body, generateDeviceKey('ed25519')));
    }

    it('records applied migrations and re-opens without re-applying', async () => {
      const { rows } = await store.db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => Number(r.version))).toEqual(migrations.map((m) => m.version));
      expect(await applyMigrations(store.db)).toEqual([]);
      const again = await FleetStore.open(url);
      await again.close();
    });

    it('refuses a database migrated by a newer build', async () => {
      await store.db.query("INSERT INTO schema_migrations (version, name) VALUES (998, 'from the future')");
      try {
        await expect(applyMigrations(store.db)).rejects.toThrow(/schema is version 998, newer than this build/);
      } finally {
        await store.db.query('DELETE FROM schema_migrations WHERE version = 998');
      }
    });

    it('enrolls idempotently, refuses a second key for a taken id, and revokes', async () => {
      const { id, key } = await enroll({ region: 'eu' });
      const again = await store.enrollDevice({ id, hardwareId: 'gw-1000', channel: 'stable', labels: { region: 'us' }, publicKeyPem: key.publicKeyPem, keyAlgorithm: key.algorithm });
      expect(again.kind).toBe('existing');
      expect(again.device.labels).toEqual({ region: 'us' });
      const other = generateDeviceKey('ed25519');
      const conflict = await store.enrollDevice({ id, hardwareId: 'gw-1000', channel: 'stable', labels: {}, publicKeyPem: other.publicKeyPem, keyAlgorithm: other.algorithm });
      expect(conflict.kind).toBe('conflict');
      expect(await store.revokeDevice(id, 'stolen')).toBe(true);
      expect((await store.getDevice(id))?.revokedAt).toBeInstanceOf(Date);
      const revoked = await store.enrollDevice({ id, hardwareId: 'gw-1000', channel: 'stable', labels: {}, publicKeyPem: key.publicKeyPem, keyAlgorithm: key.algorithm });
      expect(revoked.kind).toBe('revoked');
    });

    it('issues single-use nonces bound to one device', async () => {
      const a = await enroll();
      const b = await enroll();
      const { nonce, expiresAt } = await store.issueNonce(a.id, 60);
      expect(expiresAt.getTime()).toBeGreaterThan(Date.now());
      expect(await store.consumeNonce(b.id, nonce)).toBe('unknown');
      expect(await store.consumeNonce(a.id, nonce)).toBe('ok');
      expect(await store.consumeNonce(a.id, nonce)).toBe('used');
      const short = await store.issueNonce(a.id, 0.05);
      await new Promise((r) => setTimeout(r, 120));
      expect(await store.consumeNonce(a.id, short.nonce)).toBe('expired');
      expect(await store.pruneNonces(0)).toBeGreaterThanOrEqual(1);
    });

    it('stores reports only with a fresh nonce and a rising counter; a rejection changes nothing', async () => {
      const { id } = await enroll();
      expect(await report(id, 1, 'downloading')).toEqual({ kind: 'accepted', counter: 1 });
      expect(await report(id, 1, 'installed')).toEqual({ kind: 'stale-counter', lastCounter: 1 });
      expect(await report(id, 5, 'booted')).toEqual({ kind: 'accepted', counter: 5 });
      expect(await report(id, 3, 'committed')).toEqual({ kind: 'stale-counter', lastCounter: 5 });
      const { nonce } = await store.issueNonce(id, 60);
      await store.consumeNonce(id, nonce);
      const body = { type: 'report' as const, deviceId: id, releaseVersion: '2.0.0', imageSha256: SHA, slot: 'B' as const, bootCount: 1, state: 'committed' as const, metrics: { crashCount: 0, uptimeSeconds: 1, freeMemoryBytes: 1 }, custom: {}, createdAt: '2026-01-01T00:00:00Z', counter: 9, nonce };
      expect(await store.storeReport(body, signPayload(body, generateDeviceKey('ed25519')))).toEqual({ kind: 'nonce-rejected', reason: 'used' });
      const device = await store.getDeviceWithState(id);
      expect(device?.state).toMatchObject({ lastCounter: 5, state: 'booted', currentVersion: '2.0.0', slot: 'B' });
      expect((await store.reportsOf(id)).map((r) => r.counter)).toEqual([5, 1]);
    });

    it('selects devices by hardware and labels', async () => {
      const eu = await enroll({ region: 'eu', store: 's1' }, 'gw-sel');
      const us = await enroll({ region: 'us', store: 's2' }, 'gw-sel');
      await enroll({ region: 'eu' }, 'gw-other');
      expect((await store.devicesBySelector({ hardwareId: 'gw-sel' })).map((d) => d.id)).toEqual([eu.id, us.id].sort());
      expect((await store.devicesBySelector({ hardwareId: 'gw-sel', labels: { region: 'eu' } })).map((d) => d.id)).toEqual([eu.id]);
      await store.revokeDevice(us.id, 'test');
      expect((await store.devicesBySelector({ hardwareId: 'gw-sel', labels: { store: 's2' } }))).toEqual([]);
      expect((await store.devicesBySelector({ hardwareId: 'gw-sel', labels: { store: 's2' }, includeRevoked: true })).length).toBe(1);
    });

    it('aggregates ring health from each device latest report about the rollout release', async () => {
      const devices = await Promise.all([1, 2, 3, 4, 5].map(() => enroll({}, 'gw-ring')));
      const rolloutId = `r-${engine}`;
      await store.createRollout({ id: rolloutId, hardwareId: 'gw-ring', channel: 'stable', releaseVersion: '3.0.0', previousVersion: '2.0.0' });
      expect(await store.assignDevices(rolloutId, devices.slice(0, 4).map((d) => ({ deviceId: d.id, ring: 'canary' })))).toBe(4);
      expect(await store.assignDevices(rolloutId, devices.slice(0, 4).map((d) => ({ deviceId: d.id, ring: 'canary' })))).toBe(0);
      await store.assignDevices(rolloutId, [{ deviceId: devices[4]!.id, ring: 'fleet' }]);
      const [d0, d1, d2, , d4] = devices;
      await report(d0!.id, 1, 'downloading', '3.0.0');
      await report(d0!.id, 2, 'committed', '3.0.0');
      await report(d1!.id, 1, 'failed', '3.0.0', 'boot');
      await report(d1!.id, 2, 'rolled-back', '3.0.0', 'boot');
      await report(d2!.id, 1, 'failed', '3.0.0', 'download');
      await report(d2!.id, 2, 'committed', '3.0.0');
      await report(d2!.id, 3, 'committed', '2.0.0'); // another release: not counted
      await report(d4!.id, 1, 'failed', '3.0.0', 'health'); // another ring
      const health = await store.ringReportCounts(rolloutId, 'canary');
      expect(health).toMatchObject({ assigned: 4, reporting: 3 });
      expect(health.byState).toMatchObject({ committed: 2, 'rolled-back': 1, failed: 0, downloading: 0 });
      expect(health.byFailureKind).toMatchObject({ boot: 1, download: 0, health: 0 });
      expect(health.everFailedByKind).toMatchObject({ boot: 1, download: 1, health: 0 });

      // Assignment drives check-in; the rollout's release is gated for everyone else until finished.
      expect(await store.openAssignmentFor(d0!.id)).toMatchObject({ rolloutId, ring: 'canary', action: 'offer', releaseVersion: '3.0.0', previousVersion: '2.0.0' });
      expect(await store.gatedVersions('gw-ring', 'stable')).toEqual(new Set(['3.0.0']));
      expect(await store.setAssignmentAction(rolloutId, 'hold', { ring: 'fleet', reason: 'halted' })).toBe(1);
      expect(await store.openAssignmentFor(d4!.id)).toMatchObject({ action: 'hold', reason: 'halted' });
      expect(await store.setAssignmentAction(rolloutId, 'rollback', { deviceIds: [d0!.id] })).toBe(1);
      expect((await store.openAssignmentFor(d0!.id))?.action).toBe('rollback');
      await store.setRolloutState(rolloutId, 'finished');
      expect(await store.openAssignmentFor(d0!.id)).toBeUndefined();
      expect(await store.gatedVersions('gw-ring', 'stable')).toEqual(new Set());
    });

    it('records a rollout install-slot limit and counts the devices mid-install', async () => {
      const devices = await Promise.all([1, 2, 3, 4, 5, 6].map(() => enroll({}, 'gw-slots')));
      const [d0, d1, d2, d3, d4, d5] = devices;
      // d5 reported about the release before it was assigned: that report does not count.
      await report(d5!.id, 1, 'downloading', '4.0.0');
      await new Promise((r) => setTimeout(r, 20));
      const rolloutId = `slots-${engine}`;
      await store.createRollout({ id: rolloutId, hardwareId: 'gw-slots', channel: 'stable', releaseVersion: '4.0.0', previousVersion: '3.0.0', maxConcurrentInstalls: 2 });
      expect(await store.getRollout(rolloutId)).toMatchObject({ maxConcurrentInstalls: 2 });
      await store.assignDevices(rolloutId, devices.slice(0, 6).map((d) => ({ deviceId: d.id, ring: 'all' })));
      expect(await store.openAssignmentFor(d0!.id)).toMatchObject({ maxConcurrentInstalls: 2 });
      expect(await store.installsInProgress(rolloutId)).toBe(0);

      await report(d0!.id, 1, 'downloading', '4.0.0');
      await report(d1!.id, 1, 'downloading', '4.0.0');
      await report(d1!.id, 2, 'installed', '4.0.0');
      await report(d2!.id, 1, 'downloading', '4.0.0');
      await report(d2!.id, 2, 'booted', '4.0.0');
      await report(d3!.id, 1, 'downloading', '4.0.0');
      await report(d3!.id, 2, 'committed', '4.0.0'); // finished
      await report(d4!.id, 1, 'downloading', '4.0.0');
      await report(d4!.id, 2, 'failed', '4.0.0', 'download'); // finished
      expect(await store.installsInProgress(rolloutId)).toBe(3);
      expect(await store.installsInProgress(rolloutId, d0!.id)).toBe(2); // the asking device is left out
      await report(d0!.id, 2, 'rolled-back', '4.0.0', 'boot');
      await report(d1!.id, 3, 'committed', '3.0.0'); // moved on to another release: no longer installing this one
      expect(await store.installsInProgress(rolloutId)).toBe(1);

      // Another rollout of another release does not see these devices' installs.
      await store.createRollout({ id: `${rolloutId}-other`, hardwareId: 'gw-slots', channel: 'stable', releaseVersion: '5.0.0', previousVersion: null });
      expect(await store.getRollout(`${rolloutId}-other`)).toMatchObject({ maxConcurrentInstalls: null });
      expect(await store.installsInProgress(`${rolloutId}-other`)).toBe(0);

      await store.setMaxConcurrentInstalls(rolloutId, null);
      expect(await store.getRollout(rolloutId)).toMatchObject({ maxConcurrentInstalls: null });
      await store.setMaxConcurrentInstalls(rolloutId, 7);
      expect((await store.openAssignmentFor(d2!.id))?.maxConcurrentInstalls).toBe(7);
      await expect(store.setMaxConcurrentInstalls(rolloutId, 0)).rejects.toThrow();
      await store.setRolloutState(rolloutId, 'finished');
      await store.setRolloutState(`${rolloutId}-other`, 'finished');
    });

    it('a device offered the release longer than its ring\'s install deadline ago no longer holds an install slot', async () => {
      const [stuck, fresh, noDeadline] = await Promise.all([1, 2, 3].map(() => enroll({}, 'gw-slots-deadline')));
      const rolloutId = `slots-deadline-${engine}`;
      await store.createRollout({ id: rolloutId, hardwareId: 'gw-slots-deadline', channel: 'stable', releaseVersion: '4.0.0', previousVersion: null, maxConcurrentInstalls: 1 });
      await store.recordRingPlan(rolloutId, {}, [{ name: 'canary', size: { count: 2 }, labels: {}, installDeadlineSeconds: 600 }, { name: 'rest', size: { percent: 100 }, labels: {}, installDeadlineSeconds: null }]);
      await store.assignDevices(rolloutId, [{ deviceId: stuck!.id, ring: 'canary' }, { deviceId: fresh!.id, ring: 'canary' }, { deviceId: noDeadline!.id, ring: 'rest' }]);
      for (const d of [stuck!, fresh!, noDeadline!]) {
        await store.markOffered(rolloutId, d.id);
        await report(d.id, 1, 'booted', '4.0.0'); // bricked mid-install: never reports again
      }
      expect(await store.installsInProgress(rolloutId)).toBe(3);
      const age = (ids: string[]) => store.db.query(`UPDATE rollout_assignments SET offered_at = now() - interval '11 minutes' WHERE rollout_id = $1 AND device_id = ANY($2::text[])`, [rolloutId, ids]);
      await age([stuck!.id, noDeadline!.id]);
      expect(await store.installsInProgress(rolloutId)).toBe(2); // stuck timed out; a ring without a deadline keeps its slots
      expect((await store.ringReportCounts(rolloutId, 'canary', { installDeadlineSeconds: 600 })).outcomes.timedOut).toBe(1);
      await store.setRolloutState(rolloutId, 'finished');
    });

    it('lists devices with their last state', async () => {
      const list = await store.listDevices();
      expect(list.length).toBeGreaterThan(5);
      expect(list[0]).toHaveProperty('state.lastCounter');
    });
  });
}

onPgliteAndPostgres('ota-fleet-pglite-', fleetSuite);
