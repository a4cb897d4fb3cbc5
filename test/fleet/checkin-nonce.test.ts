// The check-in's one-statement SQL on both engines: a nonce issued only to an admitted device, and
// a nonce spent together with the recorded check-in state, which moves only when the nonce was fresh.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDeviceKey } from '../../schemas/device-envelope.js';
import { FleetStore } from '../../fleet/fleet-store.js';
import { onPgliteAndPostgres } from '../support/fleet-backends.js';
import { warnIfPostgresMissing } from '../support/postgres.js';

warnIfPostgresMissing('check-in nonce statements');

const state = (securityVersion: number, currentVersion = '1.0.0') => ({ currentVersion, imageSha256: 'c'.repeat(64), slot: 'A', securityVersion });

onPgliteAndPostgres('ota-checkin-nonce-', (engine, openUrl) => {
  describe(`check-in nonce statements on ${engine}`, () => {
    let store: FleetStore;
    beforeAll(async () => {
      store = await FleetStore.open(await openUrl());
    });
    afterAll(async () => store?.close());

    const issue = async (id: string, ttl = 60) => {
      const issued = await store.issueNonceIfAdmitted(id, ttl);
      if (issued.kind !== 'issued') throw new Error(`no nonce for ${id}: ${issued.kind}`);
      return issued;
    };
    let seq = 0;
    async function enroll() {
      const key = generateDeviceKey('ecdsa-p256-sha256');
      const id = `ckn-${engine}-${++seq}`;
      await store.enrollDevice({ id, hardwareId: 'hw-ckn', channel: 'stable', labels: {}, publicKeyPem: key.publicKeyPem, keyAlgorithm: key.algorithm });
      return id;
    }
    const checkinState = async (id: string) => (await store.getDeviceWithState(id))!.state;
    const nonceRows = async () => Number((await store.db.query<{ n: number | string }>('SELECT count(*) AS n FROM nonces')).rows[0]!.n);

    it('issues a nonce to an admitted device and none (nothing written) to an unknown or revoked one', async () => {
      const id = await enroll();
      const issued = await store.issueNonceIfAdmitted(id, 60);
      if (issued.kind !== 'issued') throw new Error(`not issued: ${issued.kind}`);
      expect(issued.nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(issued.expiresAt.getTime()).toBeGreaterThan(Date.now() + 50_000);
      const before = await nonceRows();
      expect(await store.issueNonceIfAdmitted(`never-${engine}`, 60)).toEqual({ kind: 'unknown' });
      await store.revokeDevice(id, 'test');
      expect(await store.issueNonceIfAdmitted(id, 60)).toMatchObject({ kind: 'revoked', revokedAt: expect.any(Date) });
      expect(await nonceRows()).toBe(before);
    });

    it('spends a nonce once and records the check-in with it; a replay changes nothing', async () => {
      const id = await enroll();
      const { nonce } = (await issue(id));
      expect(await store.spendNonceAndRecordCheckin(id, nonce, state(3))).toBe('ok');
      const recorded = await checkinState(id);
      expect(recorded).toMatchObject({ currentVersion: '1.0.0', slot: 'A', securityVersion: 3 });
      expect(recorded.lastCheckinAt).toBeInstanceOf(Date);
      expect(await store.spendNonceAndRecordCheckin(id, nonce, state(9, '9.0.0'))).toBe('used');
      expect(await checkinState(id)).toEqual(recorded);
    });

    it('refuses a nonce of another device, an unknown one and an expired one, recording nothing', async () => {
      const [a, b] = [await enroll(), await enroll()];
      const { nonce } = (await issue(a));
      const untouched = await checkinState(b);
      expect(await store.spendNonceAndRecordCheckin(b, nonce, state(1))).toBe('unknown');
      expect(await store.spendNonceAndRecordCheckin(b, 'x'.repeat(43), state(1))).toBe('unknown');
      const expired = (await issue(b, 0));
      expect(await store.spendNonceAndRecordCheckin(b, expired.nonce, state(1))).toBe('expired');
      expect(await checkinState(b)).toEqual(untouched);
      // The nonce refused to b is still a's to spend.
      expect(await store.spendNonceAndRecordCheckin(a, nonce, state(1))).toBe('ok');
    });

    it("issues the device's next nonce with a spent check-in, in the same statement, and none with a refused one", async () => {
      const id = await enroll();
      const { nonce } = await issue(id);
      const spent = await store.spendNonceRecordCheckinAndIssueNext(id, nonce, state(1), 900);
      if (spent.check !== 'ok' || !spent.next) throw new Error(`not spent with a next nonce: ${JSON.stringify(spent)}`);
      expect(spent.next.nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(spent.next.expiresAt.getTime()).toBeGreaterThan(Date.now() + 850_000);
      const [recorded, rows] = [await checkinState(id), await nonceRows()];
      // A replay of the spent nonce: refused, no state moved, no further nonce.
      expect(await store.spendNonceRecordCheckinAndIssueNext(id, nonce, state(7, '7.0.0'), 900)).toEqual({ check: 'used' });
      expect(await checkinState(id)).toEqual(recorded);
      expect(await nonceRows()).toBe(rows);
      // The next nonce is this device's, single-use like any other.
      expect(await store.spendNonceRecordCheckinAndIssueNext(id, spent.next.nonce, state(2))).toEqual({ check: 'ok' });
      expect(await store.spendNonceAndRecordCheckin(id, spent.next.nonce, state(2))).toBe('used');
      expect(await nonceRows()).toBe(rows);
    });

    it('never lowers the recorded security version', async () => {
      const id = await enroll();
      for (const sv of [5, 2]) expect(await store.spendNonceAndRecordCheckin(id, (await issue(id)).nonce, state(sv))).toBe('ok');
      expect((await checkinState(id)).securityVersion).toBe(5);
    });

    it('lets exactly one of many concurrent spends of one nonce through', async () => {
      const id = await enroll();
      const { nonce } = (await issue(id));
      const results = await Promise.all(Array.from({ length: 8 }, () => store.spendNonceAndRecordCheckin(id, nonce, state(1))));
      expect(results.filter((r) => r === 'ok')).toHaveLength(1);
      expect(results.filter((r) => r === 'used')).toHaveLength(7);
    });
  });
});
