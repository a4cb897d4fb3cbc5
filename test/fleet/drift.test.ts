// Desired state and drift events in the fleet store, on PGlite and (when its binaries are present)
// PostgreSQL: per-ring rows laid over the hardware's, events opened, refreshed and resolved per
// heartbeat, one open event per device, kind and subject, listing open and all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetStore } from '../../fleet/fleet-store.js';
import { generateDeviceKey } from '../../schemas/device-envelope.js';
import { onPgliteAndPostgres } from '../support/fleet-backends.js';
import { warnIfPostgresMissing } from '../support/postgres.js';

warnIfPostgresMissing('fleet drift');

function driftSuite(engine: string, openUrl: () => Promise<string>) {
  describe(`drift on ${engine}`, () => {
    let store: FleetStore;
    beforeAll(async () => {
      store = await FleetStore.open(await openUrl());
    });
    afterAll(async () => store?.close());

    let seq = 0;
    async function enroll(): Promise<string> {
      const key = generateDeviceKey('ed25519');
      const id = `drift-${engine}-${++seq}`;
      await store.enrollDevice({ id, hardwareId: 'hw-drift', channel: 'stable', labels: {}, publicKeyPem: key.publicKeyPem, keyAlgorithm: key.algorithm });
      return id;
    }

    it('a ring row overrides the hardware row field by field; set replaces, clear removes', async () => {
      expect(await store.effectiveDesiredState('hw-none')).toBeUndefined();
      await store.setDesiredState({ hardwareId: 'hw-d1', ring: '', allowedPorts: ['tcp/22'], allowedServices: ['sshd'], configDigest: null, minAgentVersion: '0.1.0', updatedBy: 'alice' });
      await store.setDesiredState({ hardwareId: 'hw-d1', ring: 'canary', allowedPorts: ['tcp/22', 'tcp/9100'], allowedServices: null, configDigest: null, minAgentVersion: null, updatedBy: 'alice' });
      expect(await store.effectiveDesiredState('hw-d1')).toEqual({ allowedPorts: ['tcp/22'], allowedServices: ['sshd'], configDigest: null, minAgentVersion: '0.1.0' });
      expect(await store.effectiveDesiredState('hw-d1', 'canary')).toEqual({ allowedPorts: ['tcp/22', 'tcp/9100'], allowedServices: ['sshd'], configDigest: null, minAgentVersion: '0.1.0' });
      expect(await store.effectiveDesiredState('hw-d1', 'other')).toEqual(await store.effectiveDesiredState('hw-d1'));
      const replaced = await store.setDesiredState({ hardwareId: 'hw-d1', ring: '', allowedPorts: null, allowedServices: null, configDigest: 'c'.repeat(64), minAgentVersion: null, updatedBy: 'bob' });
      expect(replaced).toMatchObject({ allowedPorts: null, configDigest: 'c'.repeat(64), updatedBy: 'bob' });
      expect((await store.listDesiredStates('hw-d1')).map((d) => d.ring)).toEqual(['', 'canary']);
      expect(await store.clearDesiredState('hw-d1', 'canary')).toBe(true);
      expect(await store.clearDesiredState('hw-d1', 'canary')).toBe(false);
    });

    it('opens an event per drift, refreshes it while seen, resolves it when a heartbeat no longer shows it', async () => {
      const id = await enroll();
      const port = { kind: 'unknown-listening-port', subject: 'tcp/8080', detail: { port: 'tcp/8080' } };
      const stale = { kind: 'trust-metadata-stale', subject: '', detail: { device: { rootVersion: 1 } } };
      const first = await store.reconcileDrift(id, [port, stale, port], 1);
      expect(first.opened.map((e) => [e.kind, e.subject])).toEqual([['unknown-listening-port', 'tcp/8080'], ['trust-metadata-stale', '']]);
      expect(first.resolved).toEqual([]);
      expect(first.open).toHaveLength(2);

      const second = await store.reconcileDrift(id, [port, { ...stale, detail: { device: { rootVersion: 2 } } }], 2);
      expect(second.opened).toEqual([]);
      expect(second.open.map((e) => [e.firstCounter, e.lastCounter])).toEqual([[1, 2], [1, 2]]);
      expect(second.open[1]!.detail).toEqual({ device: { rootVersion: 2 } });

      const third = await store.reconcileDrift(id, [stale], 3);
      expect(third.resolved.map((e) => e.subject)).toEqual(['tcp/8080']);
      expect(third.resolved[0]!.resolvedAt).toBeInstanceOf(Date);
      expect(third.open.map((e) => e.kind)).toEqual(['trust-metadata-stale']);

      // The port comes back: a new event, the resolved one stays in the record.
      const fourth = await store.reconcileDrift(id, [stale, port], 4);
      expect(fourth.opened.map((e) => e.firstCounter)).toEqual([4]);
      expect((await store.listDriftEvents({ deviceId: id })).map((e) => e.kind).sort()).toEqual(['trust-metadata-stale', 'unknown-listening-port']);
      expect(await store.listDriftEvents({ deviceId: id, all: true })).toHaveLength(3);

      const clean = await store.reconcileDrift(id, [], 5);
      expect(clean.resolved).toHaveLength(2);
      expect(await store.listDriftEvents({ deviceId: id })).toEqual([]);
    });

    it('lists the open events of every device, newest first', async () => {
      const a = await enroll();
      const b = await enroll();
      await store.reconcileDrift(a, [{ kind: 'agent-version-old', subject: '', detail: {} }], 1);
      await store.reconcileDrift(b, [{ kind: 'service-unexpected', subject: 'telnetd', detail: {} }], 1);
      const open = (await store.listDriftEvents()).filter((e) => e.deviceId === a || e.deviceId === b);
      expect(open.map((e) => e.deviceId)).toEqual([b, a]);
    });
  });
}

onPgliteAndPostgres('ota-fleet-drift-pglite-', driftSuite);
