// On-demand delta requests (fleet/delta-requests.ts) on both engines: concurrent requests for one image
// pair make one row, a claim takes a row once (a stale claim again), outcomes and use are recorded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetStore } from '../../fleet/fleet-store.js';
import { onPgliteAndPostgres } from '../support/fleet-backends.js';
import { warnIfPostgresMissing } from '../support/postgres.js';

warnIfPostgresMissing('fleet delta requests');

const sha = (c: string) => c.repeat(64);

function deltaRequestSuite(engine: string, openUrl: () => Promise<string>) {
  describe(`delta requests on ${engine}`, () => {
    let store: FleetStore;
    beforeAll(async () => {
      store = await FleetStore.open(await openUrl());
    });
    afterAll(async () => store?.close());
    const request = (toVersion: string, from = 'a') => ({ hardwareId: `hw-${engine}`, channel: 'stable', toVersion, fromVersion: '1.0.0', fromSha256: sha(from), toSha256: sha('f'), format: 'ops', workflowId: `delta-${sha(from).slice(0, 12)}-${sha('f').slice(0, 12)}` });
    const key = (toVersion: string, from = 'a') => ({ hardwareId: `hw-${engine}`, toVersion, fromSha256: sha(from), format: 'ops' });

    it('ten concurrent requests for one pair leave one pending row counting them all', async () => {
      await Promise.all(Array.from({ length: 10 }, () => store.requestDelta(request('1.3.0'))));
      const rows = (await store.listDeltaRequests()).filter((r) => r.hardwareId === `hw-${engine}` && r.toVersion === '1.3.0');
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ state: 'pending', requests: 10, claimedAt: null, readyAt: null });
    });

    it('two concurrent claims take the row once; a stale claim is taken again; outcomes and use are recorded', async () => {
      await store.requestDelta(request('2.0.0', 'b'));
      const [one, two] = await Promise.all([store.claimDeltaRequests(50, 600), store.claimDeltaRequests(50, 600)]);
      const mine = (rows: Awaited<ReturnType<FleetStore['claimDeltaRequests']>>) => rows.filter((r) => r.hardwareId === `hw-${engine}` && r.toVersion === '2.0.0');
      expect(mine(one).length + mine(two).length).toBe(1);
      expect((await store.getDeltaRequest(key('2.0.0', 'b')))?.state).toBe('generating');
      expect(mine(await store.claimDeltaRequests(50, 600))).toEqual([]);
      await store.db.query(`UPDATE delta_requests SET claimed_at = now() - interval '1 hour' WHERE to_version = '2.0.0' AND hardware_id = $1`, [`hw-${engine}`]);
      expect(mine(await store.claimDeltaRequests(50, 600))).toHaveLength(1);

      await store.recordDeltaOutcome(key('2.0.0', 'b'), { state: 'ready', sha256: sha('c'), length: 1234, location: `blobs/sha256/${sha('c')}`, targetPath: 't', generationMs: 1500 });
      expect(await store.getDeltaRequest(key('2.0.0', 'b'))).toMatchObject({ state: 'ready', sha256: sha('c'), length: 1234, generationMs: 1500, lastUsedAt: null });
      const at = new Date('2026-11-01T00:00:00Z');
      await store.touchDeltaRequest(key('2.0.0', 'b'), at);
      expect((await store.getDeltaRequest(key('2.0.0', 'b')))?.lastUsedAt?.toISOString()).toBe(at.toISOString());
      // Ready rows are not claimed again, whatever their age.
      expect(mine(await store.claimDeltaRequests(50, 0))).toEqual([]);

      await store.recordDeltaOutcome(key('1.3.0'), { state: 'skipped', detail: 'delta 9 MB is 95% of the full image' });
      expect(await store.getDeltaRequest(key('1.3.0'))).toMatchObject({ state: 'skipped', detail: 'delta 9 MB is 95% of the full image' });
      await store.removeDeltaRequest(key('2.0.0', 'b'));
      expect(await store.getDeltaRequest(key('2.0.0', 'b'))).toBeUndefined();
    });
  });
}

onPgliteAndPostgres('ota-fleet-delta-requests-', deltaRequestSuite);
