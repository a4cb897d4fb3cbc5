// The device agent against the real gateway over HTTP on 127.0.0.1: gateway/server.ts with a PGlite
// fleet store and the local artifact store the real release pipeline published signed releases
// into. Devices are simulated (file slots, state-file bootloader, simulated reboots) and driven
// through the library entry the fleet simulator uses (checkInOnce), plus the CLI once.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkInOnce, type AgentOptions } from '../../../device-client/agent/checkin.js';
import { readCheckinRecord } from '../../../device-client/agent/checkin-record.js';
import { deviceKeyFor, deviceKeyPath, enrollDevice } from '../../../device-client/agent/enroll.js';
import { GatewayClient } from '../../../device-client/gateway/gateway-client.js';
import { generateDeviceKey } from '../../../schemas/device-envelope.js';
import { flushReports } from '../../../device-client/reports/send-reports.js';
import { ReportQueue } from '../../../device-client/reports/queue.js';
import { deviceStatus } from '../../../device-client/agent/status.js';
import { buildDeviceCli, runDeviceCli } from '../../support/device-cli.js';
import { startCuttingProxy, startTestGateway, type TestGateway } from '../../support/device-gateway.js';
import { DEVICE_HARDWARE, publishSampleReleases, sha256File, type PublishedFixture } from '../../support/device-releases.js';
import { createSimDevice, type SimDevice } from '../../support/device-sim.js';

let root: string;
let fixture: PublishedFixture;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ota-device-gateway-'));
  // 1.0.1 keeps the security version (so the other slot stays a valid way back); 1.0.2 raises it.
  fixture = await publishSampleReleases(join(root, 'pipeline'), [
    { version: '1.0.0', securityVersion: 1 },
    { version: '1.0.1', securityVersion: 1 },
    { version: '1.0.2', securityVersion: 2 },
  ]);
}, 400_000);

afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

let seq = 0;
async function newGateway(): Promise<TestGateway> {
  const gw = await startTestGateway(join(root, `gw-${++seq}`), fixture.storeDir);
  cleanups.push(() => gw.close());
  return gw;
}

/** Releases only assigned devices may get (an open rollout with nobody in it gates the version). */
async function gate(gw: TestGateway, version: string) {
  await gw.fleet.createRollout({ id: `gate-${version}`, hardwareId: DEVICE_HARDWARE, channel: 'stable', releaseVersion: version, previousVersion: null });
}

async function newDevice(gatewayUrl: string, options: { factory?: string; securityVersion?: number; config?: Record<string, unknown> } = {}): Promise<SimDevice> {
  const id = ++seq;
  return createSimDevice(join(root, `device-${id}`), fixture, {
    factory: fixture.releases[options.factory ?? '1.0.0']!,
    securityVersion: options.securityVersion,
    config: { deviceId: `gw-sim-${id}`, gatewayUrl, download: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 50, stallTimeoutMs: 5000 }, ...options.config },
  });
}

const FAST: AgentOptions = { random: () => 0.5, metrics: async () => ({ bootCount: 1, metrics: { crashCount: 0, uptimeSeconds: 120, freeMemoryBytes: 64 << 20 }, custom: { 'sim.run': 'test' } }) };

/** A device the operator gave a single-use token (with its labels), enrolled through `via` (the gateway or a proxy to it). */
async function enrolled(gw: TestGateway, options: Parameters<typeof newDevice>[1] & { via?: string } = {}): Promise<SimDevice> {
  const sim = await newDevice(options.via ?? gw.url, options);
  await enrollDevice(sim.config, { token: await gw.tokenFor(sim.config.deviceId, { labels: { region: 'eu' } }) });
  return sim;
}

async function check(sim: SimDevice, extra: AgentOptions = {}) {
  return checkInOnce(await sim.open(), { ...FAST, ...extra });
}

/** Reports the gateway stored for a device, oldest first. */
async function storedReports(gw: TestGateway, deviceId: string) {
  return (await gw.fleet.reportsOf(deviceId)).reverse();
}

describe('device agent <-> gateway', () => {
  it('enrolls with its own key (0600), checks in, installs 1.0.1 by delta, commits after the reboot; reports arrive in order', async () => {
    const gw = await newGateway();
    await gate(gw, '1.0.2');
    const sim = await newDevice(gw.url);
    const enrolledAs = await enrollDevice(sim.config, { token: await gw.tokenFor(sim.config.deviceId, { labels: { region: 'eu' } }) });
    expect(enrolledAs).toMatchObject({ deviceId: sim.config.deviceId, status: 'admitted', created: true, algorithm: 'ed25519' });
    expect((await stat(deviceKeyPath(sim.config.stateDir))).mode & 0o777).toBe(0o600);
    expect((await gw.fleet.getDevice(sim.config.deviceId))?.labels).toEqual({ region: 'eu' });

    const first = await check(sim);
    expect(first.response?.action).toBe('update');
    expect(first).toMatchObject({ outcome: 'installed', install: { outcome: 'installed', version: '1.0.1', slot: 'B', artifact: 'delta' }, pollAfterSeconds: 60 });
    expect(first.reports).toMatchObject({ sent: first.queued, remaining: 0 });
    const want = fixture.releases['1.0.1']!;
    expect(await sha256File(sim.config.slots.B, want.length)).toBe(want.sha256);
    // The downloaded delta is gone once installed.
    expect(await readdir(join(sim.config.stateDir, 'downloads')).catch(() => [])).toEqual([]);

    // Before the reboot the gateway offers 1.0.1 again (it sees 1.0.0 running); the agent waits.
    expect((await check(sim)).outcome).toBe('waiting-for-reboot');
    await sim.reboot();
    const second = await check(sim);
    expect(second.bootCheck).toMatchObject({ outcome: 'committed', slot: 'B', version: '1.0.1' });
    expect(second.outcome).toBe('nothing');

    const reports = await storedReports(gw, sim.config.deviceId);
    expect(reports.map((r) => [r.state, r.releaseVersion])).toEqual([
      ['downloading', '1.0.1'],
      ['installed', '1.0.1'],
      ['booted', '1.0.1'],
      ['committed', '1.0.1'],
    ]);
    const counters = reports.map((r) => r.counter);
    expect(counters).toEqual([...counters].sort((a, b) => a - b));
    const state = await gw.fleet.getDeviceWithState(sim.config.deviceId);
    expect(state?.state).toMatchObject({ currentVersion: '1.0.1', state: 'committed', slot: 'B', lastCounter: counters.at(-1) });
    expect(await new ReportQueue(sim.config.stateDir).pending()).toEqual([]);
  });

  it('gateway down: reports queue on disk (surviving an agent restart) and are delivered in order when it is back', async () => {
    const gw = await newGateway();
    await gate(gw, '1.0.2');
    const sim = await enrolled(gw);
    expect((await check(sim)).outcome).toBe('installed');
    await gw.stop();
    await sim.reboot();
    const offline = await check(sim);
    expect(offline).toMatchObject({ outcome: 'offline', bootCheck: { outcome: 'committed' } });
    expect(offline.reports).toEqual({ skipped: expect.stringMatching(/unreachable/) });
    expect((await readCheckinRecord(sim.config.stateDir))?.result).toBe('offline');
    // A fresh agent (a restart) finds them on disk, in order.
    const queued = await new ReportQueue(sim.config.stateDir).pending();
    expect(queued.map((q) => q.body.state)).toEqual(['booted', 'committed']);
    expect(queued.map((q) => q.counter)).toEqual(offline.queued);

    await gw.start();
    const back = await check(sim);
    expect(back.outcome).toBe('nothing');
    expect(back.reports).toMatchObject({ sent: offline.queued, remaining: 0 });
    const reports = await storedReports(gw, sim.config.deviceId);
    expect(reports.map((r) => r.state)).toEqual(['downloading', 'installed', 'booted', 'committed']);
    expect((await gw.fleet.getDeviceWithState(sim.config.deviceId))?.state).toMatchObject({ currentVersion: '1.0.1', state: 'committed' });
  });

  it('a report the gateway refuses as forged goes to the dead-letter folder; the queue moves on', async () => {
    const gw = await newGateway();
    await gate(gw, '1.0.2');
    const sim = await enrolled(gw);
    const queue = new ReportQueue(sim.config.stateDir);
    const good = { type: 'report' as const, deviceId: sim.config.deviceId, releaseVersion: '1.0.0', imageSha256: fixture.releases['1.0.0']!.sha256, slot: 'A' as const, bootCount: 1, state: 'committed' as const, metrics: { crashCount: 0, uptimeSeconds: 5, freeMemoryBytes: 1 }, custom: {}, createdAt: new Date().toISOString() };
    const forged = await queue.enqueue(good);
    await queue.enqueue(good);
    // Signed with another key: what the gateway sees from a forger (or a device whose key changed).
    const client = new GatewayClient(gw.url);
    const intruder = generateDeviceKey('ed25519');
    // First flush with the wrong key: both are refused as bad signatures and set aside.
    const wrong = await flushReports(queue, client, intruder);
    expect(wrong.deadLettered.map((d) => d.counter)).toEqual([forged.counter, forged.counter + 1]);
    expect(wrong.deadLettered[0]!.reason).toMatch(/bad-signature/);
    expect((await queue.dead()).length).toBe(2);
    // New reports still flow with the right key, counters above the dead ones.
    const next = await queue.enqueue(good);
    expect(next.counter).toBe(forged.counter + 2);
    expect(await flushReports(queue, client, await deviceKeyFor(sim.config))).toMatchObject({ sent: [next.counter], remaining: 0 });
  });

  it('a download cut midway resumes with Range: within the retries, and after a restart from the partial file', async () => {
    const gw = await newGateway();
    await gate(gw, '1.0.2');
    const proxy = await startCuttingProxy(gw.url);
    cleanups.push(() => proxy.close());
    const delta = fixture.releases['1.0.1']!.manifest.deltas.find((d) => d.fromVersion === '1.0.0')!;
    const half = Math.floor(delta.length / 2);

    // In one check-in: the first attempt is cut, the second asks for the rest.
    const sim = await enrolled(gw, { via: proxy.url });
    proxy.cutNext(1, half);
    const downloads: number[][] = [];
    const result = await check(sim, { onDownload: (_loc, r) => downloads.push(r.resumedFrom) });
    expect(result).toMatchObject({ outcome: 'installed', install: { version: '1.0.1', artifact: 'delta' } });
    expect(downloads).toEqual([[half]]);
    const artifactRequests = proxy.requests.filter((r) => r.path.startsWith('/v1/artifacts/'));
    expect(artifactRequests.map((r) => [r.range, r.status, r.cut])).toEqual([
      [undefined, 200, true],
      [`bytes=${half}-`, 206, false],
    ]);

    // Across a restart: one attempt only, cut; the partial file stays; the next check-in resumes it.
    const sim2 = await enrolled(gw, { via: proxy.url, config: { download: { maxAttempts: 1, baseDelayMs: 10, maxDelayMs: 50, stallTimeoutMs: 5000 } } });
    proxy.requests.length = 0;
    proxy.cutNext(1, half);
    const cut = await check(sim2);
    expect(cut).toMatchObject({ outcome: 'failed', failure: { kind: 'download' } });
    const partial = join(sim2.config.stateDir, 'downloads', `${delta.sha256}.part`);
    expect((await stat(partial)).size).toBe(half);
    expect((await deviceStatus(await sim2.open())).slots.B.image).toBeNull(); // nothing written
    const resumed = await check(sim2);
    expect(resumed).toMatchObject({ outcome: 'installed', install: { version: '1.0.1', artifact: 'delta' } });
    expect(proxy.requests.filter((r) => r.path.startsWith('/v1/artifacts/')).map((r) => r.range)).toEqual([undefined, `bytes=${half}-`]);
    const want = fixture.releases['1.0.1']!;
    expect(await sha256File(sim2.config.slots.B, want.length)).toBe(want.sha256);
    const states = (await storedReports(gw, sim2.config.deviceId)).map((r) => [r.state, r.failureKind]);
    expect(states).toEqual([
      ['downloading', null],
      ['failed', 'download'],
      ['downloading', null],
      ['installed', null],
    ]);
  });

  it("a rollout assignment 'hold' keeps the device where it is", async () => {
    const gw = await newGateway();
    const sim = await enrolled(gw);
    await gw.fleet.createRollout({ id: 'r-hold', hardwareId: DEVICE_HARDWARE, channel: 'stable', releaseVersion: '1.0.1', previousVersion: '1.0.0' });
    await gw.fleet.assignDevices('r-hold', [{ deviceId: sim.config.deviceId, ring: 'canary' }]);
    await gw.fleet.setAssignmentAction('r-hold', 'hold', { reason: 'canary ring breached: health' });
    const slotB = await sha256File(sim.config.slots.B);
    const result = await check(sim);
    expect(result).toMatchObject({ outcome: 'held', response: { action: 'hold', reason: 'canary ring breached: health', rolloutId: 'r-hold' } });
    expect(await sha256File(sim.config.slots.B)).toBe(slotB);
    expect(await readCheckinRecord(sim.config.stateDir)).toMatchObject({ action: 'hold', reason: 'canary ring breached: health', rolloutId: 'r-hold' });
    expect((await deviceStatus(await sim.open())).lastCheckin).toMatchObject({ action: 'hold' });
  });

  it("'rollback' switches boot back to the other slot when it still holds the previous image", async () => {
    const gw = await newGateway();
    const sim = await enrolled(gw);
    await gw.fleet.createRollout({ id: 'r-back', hardwareId: DEVICE_HARDWARE, channel: 'stable', releaseVersion: '1.0.1', previousVersion: '1.0.0' });
    await gw.fleet.assignDevices('r-back', [{ deviceId: sim.config.deviceId, ring: 'canary' }]);
    expect(await check(sim)).toMatchObject({ outcome: 'installed', response: { action: 'update', rolloutId: 'r-back' } });
    await sim.reboot();
    expect((await check(sim)).bootCheck).toMatchObject({ outcome: 'committed', slot: 'B', version: '1.0.1' });

    await gw.fleet.setAssignmentAction('r-back', 'rollback', { reason: 'ring canary breached' });
    const slotA = await sha256File(sim.config.slots.A);
    const rolled = await check(sim);
    expect(rolled).toMatchObject({ outcome: 'rolled-back', rollback: { outcome: 'switched', slot: 'A', version: '1.0.0', left: { slot: 'B', version: '1.0.1' } } });
    expect(rolled.response).toMatchObject({ action: 'rollback', targetVersion: '1.0.0', targetImageSha256: fixture.releases['1.0.0']!.sha256 });
    expect(await sha256File(sim.config.slots.A)).toBe(slotA); // nothing rewritten
    expect(await sim.reboot()).toMatchObject({ slot: 'A', trial: true });
    const after = await check(sim);
    expect(after.bootCheck).toMatchObject({ outcome: 'committed', slot: 'A', version: '1.0.0' });
    // Back on the previous release, the gateway holds the device.
    expect(after.outcome).toBe('held');
    const reports = (await storedReports(gw, sim.config.deviceId)).map((r) => [r.state, r.releaseVersion]);
    expect(reports.slice(-4)).toEqual([
      ['rolled-back', '1.0.1'],
      ['installed', '1.0.0'],
      ['booted', '1.0.0'],
      ['committed', '1.0.0'],
    ]);
    expect((await gw.fleet.getDeviceWithState(sim.config.deviceId))?.state).toMatchObject({ currentVersion: '1.0.0', slot: 'A' });
  });

  it("'rollback' reinstalls the previous release when the other slot does not hold it (full image, version downgrade allowed)", async () => {
    const gw = await newGateway();
    const sim = await enrolled(gw, { factory: '1.0.1' });
    await gw.fleet.createRollout({ id: 'r-re', hardwareId: DEVICE_HARDWARE, channel: 'stable', releaseVersion: '1.0.1', previousVersion: '1.0.0' });
    await gw.fleet.assignDevices('r-re', [{ deviceId: sim.config.deviceId, ring: 'canary' }], 'rollback');
    const rolled = await check(sim);
    expect(rolled).toMatchObject({ outcome: 'rolled-back', rollback: { outcome: 'reinstalled' }, install: { outcome: 'installed', version: '1.0.0', slot: 'B', artifact: 'full' } });
    const want = fixture.releases['1.0.0']!;
    expect(await sha256File(sim.config.slots.B, want.length)).toBe(want.sha256);
    await sim.reboot();
    expect((await check(sim)).bootCheck).toMatchObject({ outcome: 'committed', slot: 'B', version: '1.0.0' });
  });

  it('a rollback below the stored security version is refused (switch-back and reinstall) and reported as failed/verify', async () => {
    const gw = await newGateway();
    // Switch-back path: 1.0.0 -> 1.0.2 raises the stored security version to 2; A still holds 1.0.0 (security 1).
    const sim = await enrolled(gw);
    await gw.fleet.createRollout({ id: 'r-sv', hardwareId: DEVICE_HARDWARE, channel: 'stable', releaseVersion: '1.0.2', previousVersion: '1.0.0' });
    await gw.fleet.assignDevices('r-sv', [{ deviceId: sim.config.deviceId, ring: 'canary' }]);
    expect(await check(sim)).toMatchObject({ outcome: 'installed', install: { version: '1.0.2' } });
    await sim.reboot();
    expect((await check(sim)).bootCheck).toMatchObject({ outcome: 'committed', version: '1.0.2', securityVersion: 2 });
    await gw.fleet.setAssignmentAction('r-sv', 'rollback');
    const bootBefore = await sha256File(sim.bootStatePath);
    const refused = await check(sim);
    expect(refused).toMatchObject({ outcome: 'failed', failure: { kind: 'verify', code: 'SECURITY_VERSION_DOWNGRADE' } });
    expect(await sha256File(sim.bootStatePath)).toBe(bootBefore);
    // Refused again at the next poll, but reported once.
    expect(await check(sim)).toMatchObject({ outcome: 'failed', failure: { kind: 'verify' } });
    const failed = (await storedReports(gw, sim.config.deviceId)).filter((r) => r.state === 'failed');
    expect(failed.map((r) => [r.releaseVersion, r.failureKind])).toEqual([['1.0.0', 'verify']]);

    // Reinstall path: factory 1.0.1 with a stored security version of 2, rollback to 1.0.0 (security 1).
    const sim2 = await enrolled(gw, { factory: '1.0.1', securityVersion: 2 });
    await gw.fleet.createRollout({ id: 'r-sv2', hardwareId: DEVICE_HARDWARE, channel: 'stable', releaseVersion: '1.0.1', previousVersion: '1.0.0' });
    await gw.fleet.assignDevices('r-sv2', [{ deviceId: sim2.config.deviceId, ring: 'canary' }], 'rollback');
    const slotB = await sha256File(sim2.config.slots.B);
    expect(await check(sim2)).toMatchObject({ outcome: 'failed', failure: { kind: 'verify', code: 'SECURITY_VERSION_DOWNGRADE' } });
    expect(await sha256File(sim2.config.slots.B)).toBe(slotB);
    expect(await readdir(join(sim2.config.stateDir, 'downloads')).catch(() => [])).toEqual([]); // refused before any download
  });

  it('ota-device enroll and check --json (the real CLI in a child process)', async () => {
    const gw = await newGateway();
    await gate(gw, '1.0.2');
    const sim = await newDevice(gw.url);
    const entry = await buildDeviceCli(join(root, 'cli'));
    const env = { OTA_ENROLLMENT_TOKEN: await gw.tokenFor(sim.config.deviceId) };
    const enroll = await runDeviceCli(entry, ['--config', sim.configPath, 'enroll', '--json'], env);
    expect(enroll.code, enroll.stderr).toBe(0);
    expect(JSON.parse(enroll.stdout)).toMatchObject({ deviceId: sim.config.deviceId, created: true });
    const run = await runDeviceCli(entry, ['--config', sim.configPath, 'check', '--json'], {});
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ outcome: 'installed', install: { version: '1.0.1', artifact: 'delta' } });
    const text = await runDeviceCli(entry, ['--config', sim.configPath, 'check'], {});
    expect(text.stdout).toMatch(/waits for the reboot/);

    // run: boot check after the reboot, check-in rounds, a clean stop on SIGTERM.
    await sim.reboot();
    const child = spawn(process.execPath, [entry, '--config', sim.configPath, 'run'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await expect.poll(() => stderr, { timeout: 30_000 }).toMatch(/reports: \d+ sent/);
    child.kill('SIGTERM');
    expect(await exited, stderr).toBe(0);
    expect(stderr).toMatch(/committed slot B \(1\.0\.1\)/);
    expect((await gw.fleet.getDeviceWithState(sim.config.deviceId))?.state).toMatchObject({ currentVersion: '1.0.1', state: 'committed' });
    expect((await storedReports(gw, sim.config.deviceId)).map((r) => r.state)).toEqual(['downloading', 'installed', 'booted', 'committed']);
  }, 120_000);
});
