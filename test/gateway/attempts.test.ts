// Every attempt counts, and membership follows the fleet: a real gateway and fleet store (PGlite)
// with the rollout activities that prepare, open and read rings. A device whose install failed is
// not offered the release again until `ota fleet retry` (the compiled CLI) clears it, and its
// failure stays counted; devices that enroll mid-rollout join the ring the plan gives them; a
// device offered the release that reports nothing by its install deadline counts as timed out.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rolloutActivities } from '../../activities/rollout/rollout-activities.js';
import { FleetStore } from '../../fleet/fleet-store.js';
import { startGateway, type RunningGateway } from '../../gateway/server.js';
import { parsePolicy } from '../../rollout/policy.js';
import type { CheckinRequest, CheckinResponse, HealthReport } from '../../schemas/device-api.js';
import { generateDeviceKey, signPayload, type DeviceKey } from '../../schemas/device-envelope.js';
import type { ReleaseIndexEntry } from '../../schemas/manifest.js';
import { LocalArtifactStore } from '../../stores/local-store.js';
import { ensureDist, OTA_BIN } from '../support/dist.js';
import { publishStubRelease, writeStubIndex } from '../support/stub-release.js';
import { preauthorizeAndEnroll } from '../support/admission.js';

const run = promisify(execFile);
const HW = 'gw-attempts';
const ROLLOUT = 'r-attempts';

let root: string;
let fleetUrl: string;
let store: LocalArtifactStore;
let fleet: FleetStore;
let gateway: RunningGateway;
let port = 0;
const imageSha: Record<string, string> = {};

async function publish(version: string): Promise<ReleaseIndexEntry> {
  const { entry, image } = await publishStubRelease(store, { hardwareId: HW, version, image: Buffer.alloc(200_000, version.charCodeAt(0)) });
  imageSha[version] = image.sha256;
  return entry;
}

async function open() {
  fleet = await FleetStore.open(fleetUrl);
  gateway = await startGateway({ host: '127.0.0.1', port, version: 'test', fleet, store, releasePolicy: 'rollouts', logError: () => {} });
  port = Number(new URL(gateway.url).port);
}

async function shut() {
  gateway.server.closeAllConnections();
  await gateway.close();
  await fleet.close();
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'ota-attempts-'));
  fleetUrl = `pglite:${join(root, 'fleet')}`;
  store = new LocalArtifactStore(join(root, 'artifacts'));
  const entries = [await publish('1.0.0'), await publish('2.0.0')];
  await writeStubIndex(store, HW, entries);
  await open();
});

afterAll(async () => {
  await shut();
  await store?.close();
  rmSync(root, { recursive: true, force: true });
});

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${gateway.url}${path}`, { method, headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, any>) : undefined };
}

interface TestDevice { id: string; key: DeviceKey; counter: number }
let seq = 0;

async function enroll(labels: Record<string, string> = {}): Promise<TestDevice> {
  const key = generateDeviceKey('ed25519');
  const id = `att-${++seq}`;
  await preauthorizeAndEnroll(gateway.url, fleet, { id, hardwareId: HW, key, labels });
  return { id, key, counter: 0 };
}

async function nonce(id: string): Promise<string> {
  return (await call('GET', `/v1/nonce?device=${id}`)).json!.nonce as string;
}

async function checkin(device: TestDevice, version = '1.0.0'): Promise<CheckinResponse> {
  const body: CheckinRequest = {
    type: 'checkin', deviceId: device.id, hardwareId: HW, currentVersion: version, imageSha256: imageSha[version]!, bootedSlot: 'A',
    securityVersion: 1, supportedDeltaFormats: [], nonce: await nonce(device.id), sentAt: '2026-03-01T10:00:00Z',
  };
  const res = await call('POST', '/v1/checkin', signPayload(body, device.key));
  expect(res.status, JSON.stringify(res.json)).toBe(200);
  return res.json as CheckinResponse;
}

async function report(device: TestDevice, state: HealthReport['state'], failureKind?: HealthReport['failureKind']) {
  const body: HealthReport = {
    type: 'report', deviceId: device.id, releaseVersion: '2.0.0', imageSha256: imageSha['2.0.0']!, slot: 'B', bootCount: 1, state, ...(failureKind ? { failureKind } : {}),
    metrics: { crashCount: 0, uptimeSeconds: 10, freeMemoryBytes: 1 << 20 }, custom: {}, createdAt: '2026-03-01T10:00:00Z', counter: ++device.counter, nonce: await nonce(device.id),
  };
  const res = await call('POST', '/v1/reports', signPayload(body, device.key));
  expect(res.status, JSON.stringify(res.json)).toBe(200);
}

const activities = () => rolloutActivities({ fleet: async () => fleet, store: () => store });

describe('rollout attempts and membership at the gateway', () => {
  let canary: TestDevice[] = [];
  let rest: TestDevice[] = [];

  it('prepares a rollout that keeps its ring plan', async () => {
    const devices = [await enroll(), await enroll(), await enroll()];
    const policy = parsePolicy({
      target: { hardware: HW },
      rings: [
        { name: 'canary', size: { count: 2 }, bakeTime: '30m', minReports: 2, thresholds: { failureRate: 0.5, maxFailures: 5 }, onBreach: 'halt', installDeadline: '30m' },
        { name: 'rest', size: { percent: 100 }, bakeTime: '30m', minReports: 1, thresholds: { failureRate: 0.5, maxFailures: 5 }, onBreach: 'halt', installDeadline: '30m' },
      ],
      exposureBudget: { percent: 100 },
      maxConcurrentInstalls: 10,
    });
    const plan = await activities().prepareRollout({ rolloutId: ROLLOUT, hardwareId: HW, channel: 'stable', releaseVersion: '2.0.0', policy, requestedBy: 'test' });
    expect(plan.ringSizes).toEqual([2, 1]);
    expect((await fleet.rolloutRings(ROLLOUT)).map((r) => [r.name, r.assigned, r.installDeadlineSeconds])).toEqual([['canary', 2, 1800], ['rest', 1, 1800]]);
    await activities().openRing(ROLLOUT, 'canary');
    for (const d of devices) ((await fleet.openAssignmentFor(d.id))!.ring === 'canary' ? canary : rest).push(d);
    expect(canary.length).toBe(2);
  });

  it('does not offer a release that failed its boot on the device again; a download failure is retried', async () => {
    const [c1, c2] = canary as [TestDevice, TestDevice];
    expect((await checkin(c1)).action).toBe('update');
    await report(c1, 'downloading');
    await report(c1, 'rolled-back', 'boot');
    const refused = await checkin(c1);
    expect(refused).toMatchObject({ action: 'none', rolloutId: ROLLOUT });
    expect(refused.action === 'none' && refused.reason).toMatch(new RegExp(`2\\.0\\.0 failed on this device \\(boot.*ota fleet retry ${c1.id}`));

    expect((await checkin(c2)).action).toBe('update');
    await report(c2, 'failed', 'download');
    expect((await checkin(c2)).action).toBe('update');
    await report(c2, 'committed');
  });

  it('`ota fleet retry` clears the block; the failure stays counted after the retry commits', async (ctx) => {
    const [c1] = canary as [TestDevice];
    const skip = await ensureDist();
    if (skip) return ctx.skip();
    await shut(); // PGlite: one process at a time
    try {
      const env = { ...process.env, OTA_STATE_DIR: join(root, 'state'), OTA_FLEET_DATABASE_URL: fleetUrl };
      const shown = await run(process.execPath, [OTA_BIN, 'fleet', 'show', c1.id, '--json'], { env });
      expect(JSON.parse(shown.stdout).offerBlocked).toMatchObject({ rolloutId: ROLLOUT, releaseVersion: '2.0.0', kind: 'boot' });
      const retried = await run(process.execPath, [OTA_BIN, 'fleet', 'retry', c1.id, '--release', '2.0.0', '--json'], { env });
      expect(JSON.parse(retried.stdout)).toEqual({ deviceId: c1.id, cleared: [{ rolloutId: ROLLOUT, releaseVersion: '2.0.0' }] });
      const none = await run(process.execPath, [OTA_BIN, 'fleet', 'retry', c1.id, '--release', '9.9.9'], { env }).catch((e: { code: number; stderr: string }) => e);
      expect(none).toMatchObject({ code: 1 });
      expect((none as { stderr: string }).stderr).toMatch(/no assignment in an open or finished rollout of release 9\.9\.9/);
    } finally {
      await open();
    }
    expect((await checkin(c1)).action).toBe('update');
    await report(c1, 'committed');

    const counts = await fleet.ringReportCounts(ROLLOUT, 'canary');
    expect(counts.byState).toMatchObject({ committed: 2 }); // latest reports: both recovered
    expect(counts.outcomes).toEqual({ failed: 2, committed: 0, timedOut: 0 }); // every attempt counts
    expect(counts.everFailedByKind).toMatchObject({ boot: 1, download: 1 });
    expect(await activities().readRingHealth(ROLLOUT, 'canary')).toMatchObject({ assigned: 2, reported: 2, committed: 0, failed: 2, failuresByKind: { boot: 1, download: 1 } });
  });

  it('a device enrolling mid-rollout joins the ring its plan gives it: held while the ring is closed, offered once open or at once', async () => {
    const late = await enroll();
    const held = await checkin(late);
    expect(held).toMatchObject({ action: 'hold', rolloutId: ROLLOUT });
    expect(held.action === 'hold' && held.reason).toMatch(/joined ring rest .* late/);
    expect(await fleet.openAssignmentFor(late.id)).toMatchObject({ ring: 'rest', action: 'hold' });

    await activities().openRing(ROLLOUT, 'rest');
    expect((await checkin(late)).action).toBe('update');
    const later = await enroll();
    expect(await checkin(later)).toMatchObject({ action: 'update', rolloutId: ROLLOUT });
    expect(await fleet.openAssignmentFor(later.id)).toMatchObject({ ring: 'rest', action: 'offer' });
    rest.push(late, later);
  });

  it('a device offered the release that reports no outcome by the install deadline counts as timed out', async () => {
    const [r1, late, later] = rest as [TestDevice, TestDevice, TestDevice];
    expect((await checkin(r1)).action).toBe('update');
    await report(r1, 'downloading');
    await report(late, 'committed');
    // later: offered, nothing reported; r1: downloading and then silent. Both past a 30 minute deadline.
    await fleet.db.query(`UPDATE rollout_assignments SET offered_at = now() - interval '31 minutes' WHERE rollout_id = $1 AND device_id = ANY($2::text[])`, [ROLLOUT, [r1.id, later.id]]);
    const counts = await fleet.ringReportCounts(ROLLOUT, 'rest', { installDeadlineSeconds: 1800 });
    expect(counts.outcomes).toEqual({ failed: 0, committed: 1, timedOut: 2 });
    expect(counts.everFailedByKind['timed-out']).toBe(2);
    expect((await fleet.ringReportCounts(ROLLOUT, 'rest')).outcomes.timedOut).toBe(0); // no deadline, no time-outs
    expect((await fleet.ringReportCounts(ROLLOUT, 'rest', { installDeadlineSeconds: 3600 })).outcomes.timedOut).toBe(0);
    expect(await activities().readRingHealth(ROLLOUT, 'rest')).toMatchObject({ assigned: 3, reported: 3, committed: 1, failed: 2, failuresByKind: { 'timed-out': 2 } });
  });

  it('a finished rollout keeps serving its release to devices that enroll afterwards', async () => {
    await activities().finishRollout(ROLLOUT);
    const afterwards = await enroll();
    const answer = await checkin(afterwards);
    expect(answer.action).toBe('update');
    expect(answer.action === 'update' && answer.release.version).toBe('2.0.0');
    expect(await fleet.openAssignmentFor(afterwards.id)).toBeUndefined();
  });
});
