// Attack class: freeze (Uptane; TUF spec 5.4). A gateway or mirror that keeps serving an old timestamp
// holds devices on old metadata only until that timestamp expires: from then on the device refuses to
// install (TUF_METADATA_EXPIRED), changes nothing (slots, boot state, floor, trust state), and reports
// itself frozen with how long; a fresh offline bundle brings it back.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkInOnce } from '../../device-client/agent/checkin.js';
import { deviceKeyFor, enrollDevice } from '../../device-client/agent/enroll.js';
import { GatewayClient } from '../../device-client/gateway/gateway-client.js';
import { sendHeartbeatIfDue } from '../../device-client/reports/heartbeat.js';
import { deviceStatus, formatStatus } from '../../device-client/agent/status.js';
import { LocalArtifactStore } from '../../stores/local-store.js';
import { readRepository, writeRepository } from '../../trust/metadata-store.js';
import { refreshOnline } from '../../trust/repository.js';
import { startTestGateway } from '../support/device-gateway.js';
import { ensureDist } from '../support/dist.js';
import { deviceFingerprint } from '../support/fleet-tuf.js';
import { otaIn } from '../support/ota-cli.js';
import { installFrom, refused, trustBundle, useTufAttackBench } from '../support/tuf-attack.js';

const bench = useTufAttackBench('freeze');
const HOUR = 3_600_000;

/** A repository signed 47 h ago, which the device walked an hour after: its 24 h timestamp expired 23 h ago. */
async function frozenDevice(name: string) {
  const signedAt = new Date(Date.now() - 47 * HOUR);
  const fleet = await bench().fleet(name, { now: signedAt });
  await trustBundle(fleet.sim, fleet.bundle, new Date(signedAt.getTime() + HOUR));
  return { ...fleet, expiredAt: new Date(signedAt.getTime() + 24 * HOUR) };
}

describe('attack: freeze', () => {
  it('an offline bundle with the old timestamp, once it expired: TUF_METADATA_EXPIRED, nothing changes', async () => {
    const { sim, bundle } = await frozenDevice('stale-bundle');
    const result = await refused(sim, () => installFrom(sim, bundle));
    expect(result.code).toBe('TUF_METADATA_EXPIRED');
    expect(result.message).toMatch(/timestamp version \d+ expired/);
    expect(result.after).toEqual(result.before);
  });

  it('a gateway that keeps serving the old timestamp: the offer is refused, state untouched, and the device reports itself frozen with how long (ota fleet show)', async () => {
    const { sim, bundle, expiredAt } = await frozenDevice('stale-mirror');
    const gw = await startTestGateway(join(bench().root, 'gw'), bundle);
    try {
      const config = { ...sim.config, gatewayUrl: gw.url };
      await enrollDevice(config, { token: await gw.tokenFor(config.deviceId) });
      const device = { ...(await sim.open()), config };
      const before = await deviceFingerprint(sim);
      const agentBefore = await device.agentState.read();
      const round = await checkInOnce(device, { random: () => 0.5 });
      expect(round).toMatchObject({ outcome: 'failed', failure: { kind: 'verify', code: 'TUF_METADATA_EXPIRED' } });
      expect(round.trust).toMatchObject({ outcome: 'refused', code: 'TUF_METADATA_EXPIRED', frozen: { since: expiredAt.toISOString().replace(/\.\d+Z$/, 'Z') } });
      const after = await deviceFingerprint(sim);
      // The agent state records the failed attempt (lastEvent); slots, floor and pending boot stay.
      expect({ ...after, agent: '' }).toEqual({ ...before, agent: '' });
      const agentAfter = await device.agentState.read();
      expect({ slots: agentAfter.slots, securityVersion: agentAfter.securityVersion, pendingBoot: agentAfter.pendingBoot }).toEqual({
        slots: agentBefore.slots,
        securityVersion: agentBefore.securityVersion,
        pendingBoot: agentBefore.pendingBoot,
      });

      const [report] = await gw.fleet.reportsOf(sim.config.deviceId);
      expect(report).toMatchObject({ state: 'failed', failureKind: 'verify', frozen: { since: expiredAt.toISOString().replace(/\.\d+Z$/, 'Z') } });
      expect(report!.frozen!.seconds).toBeGreaterThan(23 * 3600 - 300);
      expect(report!.frozen!.seconds).toBeLessThan(23 * 3600 + 300);
      // An idle frozen device says so every heartbeat window too.
      const beat = await sendHeartbeatIfDue(device, { client: new GatewayClient(gw.url), key: await deviceKeyFor(config), metrics: async () => ({ bootCount: 1, metrics: { crashCount: 0, uptimeSeconds: 60, freeMemoryBytes: 1 << 20 }, custom: {} }), force: true });
      expect(beat).toMatchObject({ kind: 'sent', heartbeat: { frozen: { since: report!.frozen!.since } } });
      const status = await deviceStatus(device);
      expect(status.trust.frozen?.since).toBe(report!.frozen!.since);
      expect(formatStatus(status)).toMatch(/FROZEN for \d+ s/);
    } finally {
      await gw.close();
    }
    // What the operator sees: `ota fleet show` on the gateway's fleet store.
    expect(await ensureDist()).toBeUndefined();
    const show = await otaIn(bench().root, { OTA_FLEET_DATABASE_URL: `pglite:${join(bench().root, 'gw', 'fleet')}` })(['fleet', 'show', sim.config.deviceId]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/failed\(verify\) 1\.0\.1 FROZEN for \d+ s \(TUF timestamp expired /);
  });

  it('a fresh offline bundle (a timestamp signed now) brings the frozen device back', async () => {
    const { sim, bundle, tuf } = await frozenDevice('thaw');
    const fresh = await bench().bundleCopy('fresh', bundle);
    const store = new LocalArtifactStore(fresh);
    const before = await readRepository(store);
    await writeRepository(store, refreshOnline(before.repo, { onlineKey: tuf.keys.online, now: new Date() }), before);
    expect((await deviceStatus(await sim.open())).trust.frozen).toBeDefined();
    await expect(installFrom(sim, fresh)).resolves.toMatchObject({ outcome: 'installed', version: '1.0.1' });
    const status = await deviceStatus(await sim.open());
    expect(status.trust.frozen).toBeUndefined();
    expect(status.trust.seen?.timestamp).toBe(before.repo.timestamp.signed.version + 1);
  });
});
