// Reports stored by one statement (fleet/reports.ts): all or nothing per report, also when one
// device's reports race each other; a refused report leaves its nonce unused and stores nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetStore } from '../../fleet/fleet-store.js';
import { MAX_COUNTER_STEP } from '../../fleet/signed-messages.js';
import { generateDeviceKey, signPayload } from '../../schemas/device-envelope.js';
import type { HealthReport } from '../../schemas/device-api.js';
import { onPgliteAndPostgres } from '../support/fleet-backends.js';
import { warnIfPostgresMissing } from '../support/postgres.js';

warnIfPostgresMissing('report statement');

onPgliteAndPostgres('ota-report-statement-', (engine, openUrl) => {
  describe(`reports in one statement on ${engine}`, () => {
    let store: FleetStore;
    beforeAll(async () => {
      store = await FleetStore.open(await openUrl());
    });
    afterAll(async () => store?.close());

    let seq = 0;
    async function enroll() {
      const key = generateDeviceKey('ed25519');
      const id = `rst-${engine}-${++seq}`;
      await store.enrollDevice({ id, hardwareId: 'hw-rst', channel: 'stable', labels: {}, publicKeyPem: key.publicKeyPem, keyAlgorithm: key.algorithm });
      return { id, key };
    }
    const body = (deviceId: string, counter: number, nonce: string): HealthReport => ({
      type: 'report', deviceId, releaseVersion: '2.0.0', imageSha256: 'e'.repeat(64), slot: 'B', bootCount: 1, state: 'committed',
      metrics: { crashCount: 0, uptimeSeconds: 5, freeMemoryBytes: 1 << 20 }, custom: {}, createdAt: '2026-01-01T00:00:00Z', counter, nonce,
    });
    const unused = async (nonce: string) => (await store.db.query<{ used_at: unknown }>('SELECT used_at FROM nonces WHERE nonce = $1', [nonce])).rows[0]?.used_at === null;
    const stored = async (deviceId: string) => (await store.reportsOf(deviceId, 1000)).map((r) => r.counter).sort((a, b) => a - b);

    it('stores a fresh report and moves the device state with it', async () => {
      const { id, key } = await enroll();
      const { nonce } = await store.issueNonce(id, 60);
      const report = body(id, 1, nonce);
      expect(await store.storeReport(report, signPayload(report, key))).toEqual({ kind: 'accepted', counter: 1 });
      expect((await store.getDeviceWithState(id))!.state).toMatchObject({ lastCounter: 1, state: 'committed', currentVersion: '2.0.0', releaseVersion: '2.0.0' });
      expect(await unused(nonce)).toBe(false);
    });

    it('refuses a stale counter, a counter jump and a bad nonce, each leaving the nonce unused and nothing stored', async () => {
      const { id, key } = await enroll();
      const first = body(id, 5, (await store.issueNonce(id, 60)).nonce);
      await store.storeReport(first, signPayload(first, key));
      const before = (await store.getDeviceWithState(id))!.state;
      for (const [counter, expected] of [[5, { kind: 'stale-counter', lastCounter: 5 }], [5 + MAX_COUNTER_STEP + 1, { kind: 'counter-jump', lastCounter: 5, maxStep: MAX_COUNTER_STEP }]] as const) {
        const { nonce } = await store.issueNonce(id, 60);
        const r = body(id, counter, nonce);
        expect(await store.storeReport(r, signPayload(r, key))).toEqual(expected);
        expect(await unused(nonce)).toBe(true);
      }
      const replay = body(id, 6, first.nonce);
      expect(await store.storeReport(replay, signPayload(replay, key))).toEqual({ kind: 'nonce-rejected', reason: 'used' });
      const unknown = body(id, 6, 'n'.repeat(43));
      expect(await store.storeReport(unknown, signPayload(unknown, key))).toEqual({ kind: 'nonce-rejected', reason: 'unknown' });
      const expired = body(id, 6, (await store.issueNonce(id, 0)).nonce);
      expect(await store.storeReport(expired, signPayload(expired, key))).toEqual({ kind: 'nonce-rejected', reason: 'expired' });
      expect((await store.getDeviceWithState(id))!.state).toEqual(before);
      expect(await stored(id)).toEqual([5]);
    });

    it('racing reports of one device: each is stored with its nonce spent, or refused with its nonce unused', async () => {
      const { id, key } = await enroll();
      const reports = await Promise.all(Array.from({ length: 12 }, async (_, i) => body(id, i + 1, (await store.issueNonce(id, 60)).nonce)));
      const shuffled = [...reports].sort(() => Math.random() - 0.5);
      const outcomes = await Promise.all(shuffled.map((r) => store.storeReport(r, signPayload(r, key))));
      const accepted = shuffled.filter((_, i) => outcomes[i]!.kind === 'accepted').map((r) => r.counter).sort((a, b) => a - b);
      expect(outcomes.every((o) => o.kind === 'accepted' || o.kind === 'stale-counter')).toBe(true);
      for (const [i, r] of shuffled.entries()) expect(await unused(r.nonce)).toBe(outcomes[i]!.kind !== 'accepted');
      expect(await stored(id)).toEqual(accepted);
      expect((await store.getDeviceWithState(id))!.state.lastCounter).toBe(Math.max(...accepted));
    });
  });
});
