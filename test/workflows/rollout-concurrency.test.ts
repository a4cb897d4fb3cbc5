// A rollout's maxConcurrentInstalls, enforced by the real gateway over HTTP: the rollout is
// prepared and its ring opened by the real rollout activities (called directly, no Temporal), on
// a real fleet store (PGlite) and a local artifact store holding a release index and manifests.
// Devices that report `downloading` and do not finish keep their install slots busy; everyone
// else is held until a slot frees up.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rolloutActivities } from '../../activities/rollout/rollout-activities.js';
import { generateDeviceKey, signPayload, type DeviceKey } from '../../schemas/device-envelope.js';
import { FleetStore } from '../../fleet/fleet-store.js';
import { startGateway, type RunningGateway } from '../../gateway/server.js';
import { parsePolicy } from '../../rollout/policy.js';
import type { CheckinRequest, CheckinResponse, HealthReport, ReportState } from '../../schemas/device-api.js';
import type { ReleaseIndexEntry } from '../../schemas/manifest.js';
import { LocalArtifactStore } from '../../stores/local-store.js';
import { publishStubRelease, writeStubIndex } from '../support/stub-release.js';
import { preauthorizeAndEnroll } from '../support/admission.js';

const HW = 'gw-slots';
const POLL = 7;

let root: string;
let store: LocalArtifactStore;
let fleet: FleetStore;
let gateway: RunningGateway;
const imageSha: Record<string, string> = {};

/** Publishes a release as the pipeline lays it out (blobs, manifest, bundle); returns its index entry. */
async function publish(version: string): Promise<ReleaseIndexEntry> {
  const { entry, image } = await publishStubRelease(store, { hardwareId: HW, version, image: Buffer.alloc(4096, version), manifestBundle: '{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}' });
  imageSha[version] = image.sha256;
  return entry;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'ota-slots-'));
  store = new LocalArtifactStore(join(root, 'artifacts'));
  fleet = await FleetStore.open(`pglite:${join(root, 'fleet')}`);
  const releases = [await publish('1.0.0'), await publish('2.0.0')];
  await writeStubIndex(store, HW, releases);
  gateway = await startGateway({ host: '127.0.0.1', port: 0, version: 'test', fleet, store, pollAfterSeconds: POLL, releasePolicy: 'rollouts', logError: () => {} });
});

afterAll(async () => {
  await gateway?.close();
  await fleet?.close();
  await store?.close();
  rmSync(root, { recursive: true, force: true });
});

async function call(path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${gateway.url}${path}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  expect(res.ok, `${path}: HTTP ${res.status} ${text}`).toBe(true);
  return JSON.parse(text) as Record<string, any>;
}

/** A device that speaks the signed protocol; it installs only as far as the test tells it to. */
class Device {
  version = '1.0.0';
  private counter = 0;
  constructor(readonly id: string, private readonly key: DeviceKey) {}

  static async enroll(id: string): Promise<Device> {
    const key = generateDeviceKey('ed25519');
    await preauthorizeAndEnroll(gateway.url, fleet, { id, hardwareId: HW, key });
    return new Device(id, key);
  }

  private async nonce(): Promise<string> {
    return (await call(`/v1/nonce?device=${this.id}`)).nonce as string;
  }

  async checkin(): Promise<CheckinResponse> {
    const body: CheckinRequest = {
      type: 'checkin', deviceId: this.id, hardwareId: HW, currentVersion: this.version, imageSha256: imageSha[this.version]!, bootedSlot: 'A',
      securityVersion: 1, supportedDeltaFormats: ['bsdiff'], nonce: await this.nonce(), sentAt: new Date().toISOString(),
    };
    const { signedAnswer: _signed, ...answer } = (await call('/v1/checkin', signPayload(body, this.key))) as CheckinResponse & { signedAnswer?: unknown };
    return answer as CheckinResponse;
  }

  async report(state: ReportState, release = '2.0.0'): Promise<void> {
    const body: HealthReport = {
      type: 'report', deviceId: this.id, releaseVersion: release, imageSha256: imageSha[release]!, slot: 'B', bootCount: 1, state,
      ...(state === 'failed' ? { failureKind: 'download' as const } : {}),
      metrics: { crashCount: 0, uptimeSeconds: 60, freeMemoryBytes: 1 << 20 }, custom: {}, createdAt: new Date().toISOString(), counter: ++this.counter, nonce: await this.nonce(),
    };
    await call('/v1/reports', signPayload(body, this.key));
    if (state === 'committed') this.version = release;
  }
}

describe('maxConcurrentInstalls at the gateway', () => {
  it('offers the release to at most that many devices at once; the rest are held until a slot frees up', async () => {
    const devices = await Promise.all([1, 2, 3, 4, 5].map((i) => Device.enroll(`slot-dev-${i}`)));
    const activities = rolloutActivities({ fleet: async () => fleet, store: () => store });
    const rolloutId = 'rollout-slots';
    const policy = parsePolicy({
      target: { hardware: HW },
      rings: [{ name: 'all', size: { percent: 100 }, bakeTime: '1s', minReports: 1, thresholds: { failureRate: 0.5, maxFailures: 5 }, onBreach: 'halt' }],
      exposureBudget: { percent: 100 },
      maxConcurrentInstalls: 2,
    });
    const plan = await activities.prepareRollout({ rolloutId, hardwareId: HW, channel: 'stable', releaseVersion: '2.0.0', policy, requestedBy: 'test' });
    expect(plan.fleetSize).toBe(5);
    expect(await fleet.getRollout(rolloutId)).toMatchObject({ maxConcurrentInstalls: 2 });
    expect(await activities.openRing(rolloutId, 'all')).toBe(5);

    /** Every device checks in once, in order; a device told to update starts downloading and stops there. */
    async function round(): Promise<Map<string, CheckinResponse>> {
      const answers = new Map<string, CheckinResponse>();
      for (const device of devices) {
        const answer = await device.checkin();
        answers.set(device.id, answer);
        if (answer.action === 'update' && !installing.has(device)) {
          installing.add(device);
          await device.report('downloading');
        }
      }
      return answers;
    }
    const installing = new Set<Device>();
    const actions = (answers: Map<string, CheckinResponse>) => [...answers.values()].map((a) => a.action);
    const count = (answers: Map<string, CheckinResponse>, action: string) => actions(answers).filter((a) => a === action).length;

    const first = await round();
    expect(count(first, 'update')).toBe(2);
    expect(count(first, 'hold')).toBe(3);
    const [a, b] = [...installing];
    for (const answer of first.values()) {
      if (answer.action !== 'hold') continue;
      expect(answer).toEqual({ action: 'hold', reason: 'install slots busy (2 of 2 in progress); retry later', rolloutId, pollAfterSeconds: POLL });
    }

    // Still downloading, then installed, then booted: the slots stay busy. The two installing
    // devices keep being offered the release (a resumed download), nobody else gets it.
    for (const step of [undefined, 'installed', 'booted'] as const) {
      if (step) for (const d of [a!, b!]) await d.report(step);
      const again = await round();
      expect(installing.size).toBe(2);
      expect(again.get(a!.id)?.action).toBe('update');
      expect(again.get(b!.id)?.action).toBe('update');
      expect(count(again, 'hold')).toBe(3);
    }

    // Both commit: they are on the release (nothing more to do) and two more devices get slots.
    await a!.report('committed');
    await b!.report('committed');
    const third = await round();
    expect(third.get(a!.id)?.action).toBe('none');
    expect(third.get(b!.id)?.action).toBe('none');
    expect(count(third, 'update')).toBe(2);
    expect(count(third, 'hold')).toBe(1);
    expect(installing.size).toBe(4);

    // A failure frees its slot too: the last device gets the release.
    const [, , c] = [...installing];
    await c!.report('failed');
    const fourth = await round();
    expect(installing.size).toBe(5);
    expect(count(fourth, 'hold')).toBe(0);
    expect(await fleet.installsInProgress(rolloutId)).toBe(2);
  });
});
