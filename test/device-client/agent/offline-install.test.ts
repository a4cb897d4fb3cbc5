// The device agent's offline install flow against real signed releases (the release pipeline on a
// real Temporal dev server publishes them into a local store, which is the offline bundle), real
// file slots, the state-file bootloader and simulated reboots.
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootCheck } from '../../../device-client/agent/boot-check.js';
import { markRunningSlotBad, markRunningSlotGood } from '../../../device-client/agent/manual-marks.js';
import { deviceStatus } from '../../../device-client/agent/status.js';
import { parseDeviceConfig, DeviceConfigError } from '../../../device-client/config.js';
import { ExpiredManifestError } from '../../../verification/errors.js';
import { publishSampleReleases, sha256File, type PublishedFixture } from '../../support/device-releases.js';
import { createSimDevice, type SimDevice } from '../../support/device-sim.js';
import { installFromBundle } from '../../support/attack-device.js';

let root: string;
let fixture: PublishedFixture;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ota-device-agent-'));
  fixture = await publishSampleReleases(join(root, 'pipeline'), [
    { version: '1.0.0', securityVersion: 1 },
    { version: '1.0.1', securityVersion: 2 },
  ]);
}, 300_000);

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

let counter = 0;
async function newDevice(options: { config?: Record<string, unknown>; securityVersion?: number } = {}): Promise<SimDevice> {
  return createSimDevice(join(root, `device-${++counter}`), fixture, { factory: fixture.releases['1.0.0']!, ...options });
}

const install = installFromBundle;

/** Everything an install must not change when it refuses: slots, boot state, agent state. */
async function snapshot(sim: SimDevice) {
  const files = [sim.config.slots.A, sim.config.slots.B, sim.bootStatePath, join(sim.config.stateDir, 'agent-state.json')];
  return Promise.all(files.map((f) => sha256File(f)));
}

describe('device agent: offline install, boot check, fallback', () => {
  it('full image: verifies, writes slot B only, boots it on trial, commits on health, raises the security version', async () => {
    const sim = await newDevice();
    const slotABefore = await sha256File(sim.config.slots.A);
    const result = await install(sim, fixture.storeDir, { full: true });
    expect(result).toMatchObject({ outcome: 'installed', version: '1.0.1', slot: 'B', artifact: 'full' });
    const want = fixture.releases['1.0.1']!;
    expect(await sha256File(sim.config.slots.B, want.length)).toBe(want.sha256);
    expect(await sha256File(sim.config.slots.A)).toBe(slotABefore); // the active slot, tail included
    let status = await deviceStatus(await sim.open());
    expect(status.nextBoot).toBe('B');
    expect(status.pendingBoot?.slot).toBe('B');
    expect(status.installInProgress).toBeNull();
    expect(status.securityVersion).toBe(1); // raised only on commit

    // Before the reboot the boot check only waits.
    expect(await bootCheck(await sim.open())).toMatchObject({ outcome: 'waiting-for-reboot', slot: 'A', pendingSlot: 'B' });
    expect(await sim.reboot()).toMatchObject({ slot: 'B', trial: true });
    expect(await bootCheck(await sim.open())).toMatchObject({ outcome: 'committed', slot: 'B', version: '1.0.1', securityVersion: 2 });
    status = await deviceStatus(await sim.open());
    expect(status.slots.B).toMatchObject({ committed: true, image: { version: '1.0.1', sha256: want.sha256 } });
    expect(status.securityVersion).toBe(2);
    // 1.0.0 in A is below the new security version: falling back to it would be a rollback.
    expect(status.slots.A.committed).toBe(false);
    expect(status.slots.A.triesLeft).toBe(0);
    expect(status.lastEvent).toMatchObject({ kind: 'committed', version: '1.0.1', slot: 'B' });
    expect(await sim.reboot()).toMatchObject({ slot: 'B', trial: false });
    expect(await bootCheck(await sim.open())).toMatchObject({ outcome: 'ok', slot: 'B', version: '1.0.1' });
    // Nothing left in scratch.
    expect(await readdir(join(sim.config.stateDir, 'scratch'))).toEqual([]);
  });

  it('delta 1.0.0 -> 1.0.1: bsdiff from the active slot (exactly the image length, not the slot tail)', async () => {
    const sim = await newDevice();
    const slotABefore = await sha256File(sim.config.slots.A);
    const result = await install(sim, fixture.storeDir);
    expect(fixture.releases['1.0.1']!.manifest.deltas.map((d) => `${d.format} ${d.fromVersion}`)).toEqual(['bsdiff 1.0.0', 'ops 1.0.0']);
    // Both formats supported (the default): the smaller download wins, bsdiff on these small images.
    expect(result).toMatchObject({ outcome: 'installed', version: '1.0.1', slot: 'B', artifact: 'delta', deltaFormat: 'bsdiff' });
    const want = fixture.releases['1.0.1']!;
    expect(await sha256File(sim.config.slots.B, want.length)).toBe(want.sha256);
    expect(await sha256File(sim.config.slots.A)).toBe(slotABefore);
    await sim.reboot();
    expect(await bootCheck(await sim.open())).toMatchObject({ outcome: 'committed', slot: 'B', version: '1.0.1' });
    // Installing again is a no-op.
    expect(await install(sim, fixture.storeDir)).toMatchObject({ outcome: 'up-to-date', version: '1.0.1', slot: 'B' });
  });

  it('delta 1.0.0 -> 1.0.1 through the ops format: streamed from the active slot, checkpointed in the journal', async () => {
    const sim = await newDevice({ config: { deltas: { formats: ['ops'], opsCheckpointBytes: 1 } } });
    const slotABefore = await sha256File(sim.config.slots.A);
    const lines: string[] = [];
    const result = await install(sim, fixture.storeDir, { log: (line) => lines.push(line) });
    expect(result).toMatchObject({ outcome: 'installed', version: '1.0.1', slot: 'B', artifact: 'delta', deltaFormat: 'ops', resumedFromOp: 0 });
    expect(lines).toContain(`staged the ops delta from 1.0.0 (${fixture.releases['1.0.1']!.manifest.deltas.find((d) => d.format === 'ops')!.length} bytes), verified`);
    expect(lines.find((l) => l.startsWith('ops delta applied by'))).toMatch(/^ops delta applied by the native applier \(ota-apply-ops\), peak RSS/);
    const want = fixture.releases['1.0.1']!;
    expect(await sha256File(sim.config.slots.B, want.length)).toBe(want.sha256);
    expect(await sha256File(sim.config.slots.A)).toBe(slotABefore);
    // The journal is closed and the scratch folder is empty again.
    expect(await readdir(join(sim.config.stateDir, 'scratch'))).toEqual([]);
    await sim.reboot();
    expect(await bootCheck(await sim.open())).toMatchObject({ outcome: 'committed', slot: 'B', version: '1.0.1' });
  });

  it('a tar of the bundle installs the same way', async () => {
    const sim = await newDevice();
    const tar = join(root, 'bundle.tar');
    const { spawnSync } = await import('node:child_process');
    expect(spawnSync('tar', ['-cf', tar, '-C', fixture.storeDir, '.']).status).toBe(0);
    expect(await install(sim, `file://${tar}`)).toMatchObject({ outcome: 'installed', version: '1.0.1', artifact: 'delta' });
  });

  it('an artifact longer than the manifest says (endless data) is cut off and refused', async () => {
    const sim = await newDevice();
    const bundle = join(root, `endless-${counter}`);
    await cp(fixture.storeDir, bundle, { recursive: true });
    const blob = join(bundle, fixture.releases['1.0.1']!.manifest.image.location);
    await writeFile(blob, Buffer.concat([await readFile(blob), Buffer.alloc(1 << 20)]));
    const before = await snapshot(sim);
    await expect(install(sim, bundle, { full: true })).rejects.toThrow(/longer than the \d+ bytes the manifest pins/);
    expect(await snapshot(sim)).toEqual(before);
  });

  // Tampered artifacts, unpinned signers, rollback and wrong channel: test/attacks/ (docs/attacks.md).
  it('a manifest past its expiry (the freeze defence that exists before TUF) is refused', async () => {
    const sim = await newDevice();
    const before = await snapshot(sim);
    await expect(install(sim, fixture.storeDir, { now: new Date(Date.now() + 400 * 86_400_000) })).rejects.toBeInstanceOf(ExpiredManifestError);
    expect(await snapshot(sim)).toEqual(before);
  });

  it('health failure on the new slot: marked bad, the next boot falls back to A, reported as rolled back (health)', async () => {
    const sim = await newDevice({ config: { health: { commands: [{ name: 'app', run: ['sh', '-c', 'echo app is down >&2; exit 3'] }] } } });
    await install(sim, fixture.storeDir);
    expect(await sim.reboot()).toMatchObject({ slot: 'B', trial: true });
    const failed = await bootCheck(await sim.open());
    expect(failed).toMatchObject({ outcome: 'health-failed', slot: 'B', version: '1.0.1', rebootToFallBack: true });
    expect(failed.outcome === 'health-failed' && failed.reason).toContain('app is down');
    expect(await sim.reboot()).toMatchObject({ slot: 'A', trial: false });
    expect(await bootCheck(await sim.open())).toMatchObject({ outcome: 'rolled-back', slot: 'A', failedSlot: 'B', failedVersion: '1.0.1', failure: 'health' });
    const status = await deviceStatus(await sim.open());
    expect(status).toMatchObject({ booted: 'A', nextBoot: 'A', securityVersion: 1, pendingBoot: null });
    expect(status.lastEvent).toMatchObject({ kind: 'rolled-back', failure: 'health', version: '1.0.1' });
    expect(await sha256File(sim.config.slots.A, fixture.releases['1.0.0']!.length)).toBe(fixture.releases['1.0.0']!.sha256);
  });

  it('tries exhausted (the new slot never reaches its boot check): the bootloader falls back by itself', async () => {
    const sim = await newDevice({ config: { bootTries: 2 } });
    await install(sim, fixture.storeDir);
    expect(await sim.reboot()).toMatchObject({ slot: 'B', trial: true });
    expect(await sim.reboot()).toMatchObject({ slot: 'B', trial: true });
    expect(await sim.reboot()).toMatchObject({ slot: 'A', trial: false });
    expect(await bootCheck(await sim.open())).toMatchObject({ outcome: 'rolled-back', slot: 'A', failedSlot: 'B', failure: 'boot' });
    const status = await deviceStatus(await sim.open());
    expect(status.boot.order).toEqual(['A', 'B']);
    expect(status.slots.B).toMatchObject({ committed: false, triesLeft: 0 });
    // The device can take the next update.
    expect(await install(sim, fixture.storeDir)).toMatchObject({ outcome: 'installed', slot: 'B' });
  });

  it('mark-good commits the trial slot without health checks; mark-bad sends the next boot back', async () => {
    const sim = await newDevice({ config: { health: { commands: [{ name: 'never runs', run: ['false'] }] } } });
    await install(sim, fixture.storeDir);
    await sim.reboot();
    expect(await markRunningSlotGood(await sim.open())).toMatchObject({ outcome: 'committed', slot: 'B', version: '1.0.1' });

    const other = await newDevice();
    await install(other, fixture.storeDir);
    await other.reboot();
    expect(await markRunningSlotBad(await other.open(), 'operator saw a crash')).toMatchObject({ outcome: 'health-failed', slot: 'B' });
    expect(await other.reboot()).toMatchObject({ slot: 'A' });
    expect(await bootCheck(await other.open())).toMatchObject({ outcome: 'rolled-back', failedSlot: 'B' });
    expect((await deviceStatus(await other.open())).lastEvent?.reason).toBe('failed its health check');
  });

  it('refuses to install while the running slot is on a trial boot', async () => {
    const sim = await newDevice();
    await install(sim, fixture.storeDir);
    await sim.reboot();
    await expect(install(sim, fixture.storeDir)).rejects.toThrow(/trial boot/);
  });
});

describe('device config', () => {
  it('names every bad field', () => {
    let error: unknown;
    try {
      parseDeviceConfig({ deviceId: 'x', hardwareId: 'Bad HW', slots: { A: 'a' }, bootloader: { kind: 'floppy' }, trust: {}, stateDir: 's', bootTries: 12, extra: 1 }, '/tmp');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DeviceConfigError);
    const message = (error as Error).message;
    for (const field of ['hardwareId', 'slots.B', 'bootloader.kind', 'trust.trustedRootPath', 'bootTries', 'extra: unknown field']) expect(message).toContain(field);
  });
});
