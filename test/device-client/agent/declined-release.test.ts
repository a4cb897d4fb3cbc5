// The agent refuses to re-install a release that failed its boot check here, even when a gateway
// offers it (no rollout: the gateway's own block does not apply), until an operator runs
// `ota-device retry` (the real CLI, which also shows the refusal in `check --json`).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { offerRefusal } from '../../../device-client/agent/agent-state.js';
import { checkInOnce, type AgentOptions } from '../../../device-client/agent/checkin.js';
import { enrollDevice } from '../../../device-client/agent/enroll.js';
import { deviceStatus } from '../../../device-client/agent/status.js';
import { buildDeviceCli, runDeviceCli } from '../../support/device-cli.js';
import { startTestGateway, type TestGateway } from '../../support/device-gateway.js';
import { DEVICE_HARDWARE, publishSampleReleases, type PublishedFixture } from '../../support/device-releases.js';
import { createSimDevice } from '../../support/device-sim.js';

let root: string;
let fixture: PublishedFixture;
let gw: TestGateway;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ota-declined-'));
  fixture = await publishSampleReleases(join(root, 'pipeline'), [
    { version: '1.0.0', securityVersion: 1 },
    { version: '1.0.1', securityVersion: 1 },
  ]);
  gw = await startTestGateway(join(root, 'gw'), fixture.storeDir);
}, 400_000);

afterAll(async () => {
  await gw?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

const FAST: AgentOptions = { random: () => 0.5, metrics: async () => ({ bootCount: 1, metrics: { crashCount: 0, uptimeSeconds: 120, freeMemoryBytes: 64 << 20 }, custom: {} }) };
const failingHealth = async () => ({ ok: false, checks: [{ kind: 'command' as const, name: 'app', ok: false, detail: 'app exited 3', durationMs: 1 }] });

describe('a release that failed its health check on the device', () => {
  it('offerRefusal names the failure and the way out', () => {
    expect(offerRefusal({ failedReleases: [] }, '1.0.1')).toBeUndefined();
    const reason = offerRefusal({ failedReleases: [{ version: '1.0.1', failure: 'health', reason: 'health check failed: app', at: '2026-01-01T00:00:00Z' }] }, '1.0.1');
    expect(reason).toMatch(/1\.0\.1 failed its health check on this device .*ota-device retry --release 1\.0\.1/);
    expect(offerRefusal({ failedReleases: [{ version: '1.0.1', failure: 'boot', reason: 'ran out of boot tries', at: 'x' }] }, '1.0.2')).toBeUndefined();
  });

  it('is declined when offered again, shown by check --json and status, and installed again after ota-device retry', async () => {
    const sim = await createSimDevice(join(root, 'device'), fixture, {
      factory: fixture.releases['1.0.0']!,
      config: { deviceId: 'declines-1', gatewayUrl: gw.url, labels: {}, download: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 50, stallTimeoutMs: 5000 } },
    });
    await enrollDevice(sim.config, { token: await gw.tokenFor(sim.config.deviceId) });
    expect((await checkInOnce(await sim.open(), FAST)).outcome).toBe('installed');
    await sim.reboot();
    const trial = await checkInOnce(await sim.open(), { ...FAST, bootCheck: { health: failingHealth } });
    expect(trial.bootCheck).toMatchObject({ outcome: 'health-failed', version: '1.0.1' });
    await sim.reboot();
    const back = await checkInOnce(await sim.open(), FAST);
    expect(back.bootCheck).toMatchObject({ outcome: 'rolled-back', failure: 'health', failedVersion: '1.0.1' });
    // The gateway (no rollout here) offers 1.0.1 again; the agent declines it.
    expect(back.response?.action).toBe('update');
    expect(back).toMatchObject({ outcome: 'declined', declined: { version: '1.0.1' } });
    expect(back.declined!.reason).toMatch(/health check failed: .*app exited 3.*ota-device retry --release 1\.0\.1/);
    expect((await deviceStatus(await sim.open())).failedReleases).toMatchObject([{ version: '1.0.1', failure: 'health' }]);

    const entry = await buildDeviceCli(join(root, 'cli'));
    const check = await runDeviceCli(entry, ['--config', sim.configPath, 'check', '--json'], {});
    expect(check.code, check.stderr).toBe(0);
    expect(JSON.parse(check.stdout)).toMatchObject({ outcome: 'declined', declined: { version: '1.0.1', reason: expect.stringMatching(/ota-device retry/) } });
    const other = await runDeviceCli(entry, ['--config', sim.configPath, 'retry', '--release', '9.9.9', '--json'], {});
    expect(other.code).toBe(1);
    expect(JSON.parse(other.stdout)).toMatchObject({ cleared: [], reason: 'no failed release 9.9.9 recorded on this device' });
    const retry = await runDeviceCli(entry, ['--config', sim.configPath, 'retry', '--release', '1.0.1', '--json'], {});
    expect(retry.code, retry.stderr).toBe(0);
    expect(JSON.parse(retry.stdout)).toEqual({ cleared: ['1.0.1'] });

    const again = await checkInOnce(await sim.open(), FAST);
    expect(again).toMatchObject({ outcome: 'installed', install: { version: '1.0.1' } });
  }, 180_000);
});
