// The device's side of TUF against real signed releases (the release pipeline on a Temporal dev server)
// and a real repository (trust/): the device pins root 1, walks the root chain the bundle or the gateway
// carries, then timestamp -> snapshot -> targets, and checks the manifest against its target before
// installing; it keeps the newest root, the versions and the newest signed time in its state dir.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkInOnce } from '../../../device-client/agent/checkin.js';
import { deviceTrustPath } from '../../../device-client/agent/device-trust.js';
import { enrollDevice } from '../../../device-client/agent/enroll.js';
import { installUpdate } from '../../../device-client/agent/install.js';
import { OfflineBundleSource } from '../../../device-client/agent/offline-bundle.js';
import { deviceStatus, formatStatus } from '../../../device-client/agent/status.js';
import { LocalArtifactStore } from '../../../stores/local-store.js';
import { readRepository, writeRepository } from '../../../trust/metadata-store.js';
import { rotateRoot } from '../../../trust/root-rotation.js';
import { startTestGateway } from '../../support/device-gateway.js';
import { publishSampleReleases, type PublishedFixture } from '../../support/device-releases.js';
import { createSimDevice, type SimDevice } from '../../support/device-sim.js';
import { copyBundle, createFleetTuf, deviceFingerprint, newTufKey, pinRoot, type FleetTuf } from '../../support/fleet-tuf.js';

let root: string;
let fixture: PublishedFixture;
let legacyBundle: string;
let tuf: FleetTuf;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ota-device-tuf-'));
  fixture = await publishSampleReleases(join(root, 'pipeline'), [
    { version: '1.0.0', securityVersion: 1 },
    { version: '1.0.1', securityVersion: 1 },
  ]);
  legacyBundle = await copyBundle(fixture.storeDir, join(root, 'legacy-bundle'));
  tuf = await createFleetTuf(fixture);
}, 300_000);

afterAll(async () => {
  await tuf?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

let counter = 0;
async function newDevice(config: Record<string, unknown> = {}): Promise<SimDevice> {
  return createSimDevice(join(root, `device-${++counter}`), fixture, { factory: fixture.releases['1.0.0']!, config: { deviceId: `tuf-sim-${counter}`, ...config } });
}

async function install(sim: SimDevice, bundle: string, now?: Date) {
  const device = await sim.open();
  const source = await OfflineBundleSource.open(bundle, device.scratchDir);
  try {
    return await installUpdate(device, { source, sourceRef: bundle, full: true, now });
  } finally {
    await source.close();
  }
}

describe('device: releases through the TUF client workflow', () => {
  it('without a pinned TUF root the device installs as before, and its status says so', async () => {
    const sim = await newDevice();
    const status = await deviceStatus(await sim.open());
    expect(status.trust).toMatchObject({ tuf: false });
    expect(formatStatus(status)).toMatch(/no TUF root pinned: releases are verified against trusted_root.json alone/);
    expect(await install(sim, legacyBundle)).toMatchObject({ outcome: 'installed', version: '1.0.1' });
  });

  it('a device pinning root 1 walks a rotated root chain (1 -> 2 -> 3) from the bundle, installs, and keeps what it trusted', async () => {
    const sim = await newDevice();
    await pinRoot(sim, await tuf.read());
    const bundle = await copyBundle(fixture.storeDir, join(root, 'rotated-bundle'));
    const rotated = new LocalArtifactStore(bundle);
    const before = await readRepository(rotated);
    const newRoot = newTufKey();
    let repo = rotateRoot(before.repo, { signingKeys: [tuf.keys.root, newRoot], newRootKeys: [newRoot], now: new Date() });
    repo = rotateRoot(repo, { signingKeys: [newRoot], now: new Date() });
    await writeRepository(rotated, repo, before);
    await rotated.close();

    expect(await install(sim, bundle)).toMatchObject({ outcome: 'installed', version: '1.0.1' });
    const trusted = JSON.parse(await readFile(deviceTrustPath(sim.config), 'utf8'));
    expect(trusted.root.signed.version).toBe(3);
    // Created, then one target per release: version 3 of each role.
    expect(trusted.seen).toMatchObject({ timestamp: 3, snapshot: 3, targets: 3 });
    expect(typeof trusted.seen.newestSignedTime).toBe('string');
    const status = await deviceStatus(await sim.open());
    expect(status.trust).toMatchObject({ tuf: true, rootVersion: 3, seen: { timestamp: 3 } });
    expect(status.trust.frozen).toBeUndefined();
    expect(formatStatus(status)).toMatch(/trust: TUF root v3; timestamp v3, snapshot v3, targets v3/);
  });

  it('a tar bundle carries its tuf/ folder (the members are allowed by name) and installs through TUF', async () => {
    const sim = await newDevice();
    await pinRoot(sim, await tuf.read());
    const tar = join(root, 'tuf-bundle.tar');
    expect(spawnSync('tar', ['-cf', tar, '-C', fixture.storeDir, '.']).status).toBe(0);
    expect(spawnSync('tar', ['-tf', tar], { encoding: 'utf8' }).stdout).toMatch(/tuf\/timestamp\.json/);
    expect(await install(sim, `file://${tar}`)).toMatchObject({ outcome: 'installed', version: '1.0.1' });
    expect(JSON.parse(await readFile(deviceTrustPath(sim.config), 'utf8')).seen).toMatchObject({ timestamp: 3 });
  });

  it('a device pinning a root refuses a bundle without TUF metadata (TUF_NOT_INITIALIZED) and changes nothing', async () => {
    const sim = await newDevice();
    await pinRoot(sim, await tuf.read());
    const before = await deviceFingerprint(sim);
    await expect(install(sim, legacyBundle)).rejects.toMatchObject({ code: 'TUF_NOT_INITIALIZED' });
    expect(await deviceFingerprint(sim)).toEqual(before);
  });

  it('a release that is not a target is refused (TUF_TARGET_MISMATCH) with no state change', async () => {
    const sim = await newDevice();
    const bundle = await copyBundle(legacyBundle, join(root, 'unlisted-bundle'));
    const unlisted = await createFleetTuf({ ...fixture, storeDir: bundle, releases: { '1.0.0': fixture.releases['1.0.0']! } });
    await pinRoot(sim, await unlisted.read());
    await unlisted.close();
    const before = await deviceFingerprint(sim);
    await expect(install(sim, bundle)).rejects.toMatchObject({ code: 'TUF_TARGET_MISMATCH' });
    expect(await deviceFingerprint(sim)).toEqual(before);
  });

  it('through the gateway: GET /v1/tuf/<name> serves the metadata read-only; the device verifies the offer through it and follows a root rotation while idle', async () => {
    const gw = await startTestGateway(join(root, 'gw'), fixture.storeDir);
    try {
      const timestamp = await fetch(`${gw.url}/v1/tuf/timestamp.json`);
      expect(timestamp.status).toBe(200);
      expect(JSON.parse(await timestamp.text()).signed._type).toBe('timestamp');
      expect((await fetch(`${gw.url}/v1/tuf/1.root.json`)).status).toBe(200);
      expect((await fetch(`${gw.url}/v1/tuf/9.root.json`)).status).toBe(404);
      expect((await fetch(`${gw.url}/v1/tuf/..%2Fkeys.json`)).status).toBe(404);
      expect((await fetch(`${gw.url}/v1/tuf/timestamp.json`, { method: 'POST' })).status).toBe(405);

      const sim = await newDevice({ gatewayUrl: gw.url });
      await pinRoot(sim, await tuf.read());
      await enrollDevice(sim.config, { token: await gw.tokenFor(sim.config.deviceId) });
      const result = await checkInOnce(await sim.open(), { random: () => 0.5 });
      expect(result).toMatchObject({ outcome: 'installed', install: { version: '1.0.1' } });
      expect(JSON.parse(await readFile(deviceTrustPath(sim.config), 'utf8')).seen).toMatchObject({ timestamp: 3, targets: 3 });

      // While nothing new is offered the device still walks the gateway's metadata: a root rotated meanwhile arrives.
      const newRoot = newTufKey();
      await tuf.change((repo) => rotateRoot(repo, { signingKeys: [tuf.keys.root, newRoot], newRootKeys: [newRoot], now: new Date() }));
      const idle = await checkInOnce(await sim.open(), { random: () => 0.5 });
      expect(idle.outcome).toBe('waiting-for-reboot');
      expect(idle.trust).toMatchObject({ outcome: 'refreshed', rootVersion: 2 });
      expect((await deviceStatus(await sim.open())).trust.rootVersion).toBe(2);
    } finally {
      await gw.close();
    }
  });
});
