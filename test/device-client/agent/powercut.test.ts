// Power cuts: the real `ota-device` CLI in a child process is killed with SIGKILL at every named
// step of an install and of the boot check, and just before and after every boot-state write.
// After each kill the device is "power-cycled" (the simulated bootloader picks a slot) and the agent
// runs again as it would at boot. Checked at every boot: the bootloader finds a slot; every slot it
// may boot holds a complete image that verifies; and in the end the update is committed.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBootable, SLOTS } from '../../../device-client/boot/boot-state.js';
import { StateFileBackend } from '../../../device-client/boot/state-file-backend.js';
import type { DeviceStatus } from '../../../device-client/agent/status.js';
import { buildDeviceCli, runDeviceCli, type CliRun } from '../../support/device-cli.js';
import { publishSampleReleases, sha256File, type PublishedFixture } from '../../support/device-releases.js';
import { createSimDevice, type SimDevice } from '../../support/device-sim.js';

let root: string;
let fixture: PublishedFixture;
let cli: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ota-device-powercut-'));
  cli = await buildDeviceCli(join(root, 'cli'));
  fixture = await publishSampleReleases(join(root, 'pipeline'), [
    { version: '1.0.0', securityVersion: 1 },
    { version: '1.0.1', securityVersion: 1 },
  ]);
}, 300_000);

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

let counter = 0;
const newDevice = (extra: Record<string, unknown> = {}) =>
  createSimDevice(join(root, `device-${++counter}`), fixture, {
    factory: fixture.releases['1.0.0']!,
    config: { health: { commands: [{ name: 'shell works', run: ['sh', '-c', 'exit 0'] }] }, ...extra },
  });
/**
 * A device that applies only ops deltas, checkpointing after every op (the sample patch has ~10), with the
 * native applier (ota-apply-ops): the agent is killed while the child waits for the checkpoint's ack.
 */
const OPS_ONLY = { deltas: { formats: ['ops'], opsCheckpointBytes: 1, applier: 'native' } };

/** The image a slot may hold when bootable: A keeps the factory image, B may only get 1.0.1. */
const EXPECTED = { A: () => fixture.releases['1.0.0']!, B: () => fixture.releases['1.0.1']! };

async function assertEveryBootableSlotVerifies(sim: SimDevice, when: string): Promise<void> {
  const state = await new StateFileBackend(sim.bootStatePath).read();
  for (const slot of SLOTS) {
    if (!isBootable(state, slot)) continue;
    const want = EXPECTED[slot]();
    expect(await sha256File(sim.config.slots[slot], want.length), `${when}: bootable slot ${slot} must hold ${want.version}`).toBe(want.sha256);
  }
}

async function ota(sim: SimDevice, args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return runDeviceCli(cli, ['--config', sim.configPath, ...args], env);
}

async function status(sim: SimDevice): Promise<DeviceStatus> {
  const run = await ota(sim, ['status', '--json']);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as DeviceStatus;
}

const updated = (s: DeviceStatus) => s.booted === 'B' && s.slots.B.committed && s.slots.B.image?.version === '1.0.1' && !s.pendingBoot && !s.installInProgress;

/**
 * A device's life: at each boot the agent runs (`run --once`: boot check, then finish an
 * interrupted install); while no install is under way the operator runs `install`. `env` goes to every
 * run until the first SIGKILL. Returns whether a kill happened and the points passed.
 */
async function live(sim: SimDevice, env: Record<string, string>): Promise<{ killed: string | null; boots: number }> {
  let killed: string | null = null;
  const bundle = fixture.storeDir;
  let boots = 0;
  const step = async (args: string[], round: number): Promise<boolean> => {
    const run = await ota(sim, args, killed ? {} : env);
    if (run.signal === 'SIGKILL') {
      killed = `${args[0]} (round ${round})`;
      return false;
    }
    expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(0);
    return true;
  };
  for (let round = 0; round < 8; round++) {
    if (await step(['run', '--once'], round)) {
      // The operator (re)starts the install when none is under way: a kill before the journal
      // began left no trace, exactly as if the install had never been run.
      const s = await status(sim);
      if (!updated(s) && !s.installInProgress && !s.pendingBoot && s.booted && s.slots[s.booted].committed) await step(['install', bundle], round);
    }
    await assertEveryBootableSlotVerifies(sim, `before boot ${boots + 1}`);
    if (updated(await status(sim))) return { killed, boots };
    const outcome = await sim.reboot();
    boots++;
    expect(outcome.slot, 'the bootloader must always find a slot').not.toBeNull();
    const want = EXPECTED[outcome.slot!]();
    expect(await sha256File(sim.config.slots[outcome.slot!], want.length), `boot ${boots}: booted slot ${outcome.slot} must verify`).toBe(want.sha256);
  }
  throw new Error(`the update did not complete within 8 boots (killed: ${killed}): ${JSON.stringify(await status(sim))}`);
}

describe('power cuts during install and boot check (ota-device CLI, SIGKILL)', () => {
  let points: string[] = [];

  it('a clean run passes every crash point and commits 1.0.1 by delta', async () => {
    const sim = await newDevice();
    const trace = join(sim.dir, 'trace.txt');
    const result = await live(sim, { OTA_DEVICE_CRASH_TRACE: trace });
    expect(result).toEqual({ killed: null, boots: 1 });
    points = [...new Set((await readFile(trace, 'utf8')).split('\n').filter(Boolean))];
    expect(points).toEqual(
      expect.arrayContaining([
        'install:staged',
        'install:journal-started',
        'install:invalidate:before-boot-write',
        'install:invalidate:after-boot-write',
        'install:slot-half-written',
        'install:slot-verified',
        'install:written',
        'install:activate:before-boot-write',
        'install:activate:after-boot-write',
        'install:activated',
        'install:journal-cleared',
        'boot-check:health-checked',
        'boot-check:commit:before-boot-write',
        'boot-check:commit:after-boot-write',
        'boot-check:commit-recorded',
      ]),
    );
    const s = await status(sim);
    expect(s.lastEvent).toMatchObject({ kind: 'committed', version: '1.0.1' });
  });

  it('SIGKILL at every point: always boots a verified slot, then completes the update', async () => {
    expect(points.length).toBeGreaterThan(10);
    const failures: string[] = [];
    for (const point of points) {
      const sim = await newDevice();
      try {
        const { killed } = await live(sim, { OTA_DEVICE_CRASH_AT: point });
        expect(killed, `${point} was never reached`).not.toBeNull();
        const s = await status(sim);
        expect(s.securityVersion).toBe(1);
        expect(await sha256File(sim.config.slots.A, fixture.releases['1.0.0']!.length)).toBe(fixture.releases['1.0.0']!.sha256);
      } catch (error) {
        failures.push(`${point}: ${(error as Error).message}`);
      }
    }
    expect(failures).toEqual([]);
  }, 600_000);
});

describe('power cut in the middle of an ops delta apply (ota-device CLI, SIGKILL)', () => {
  it('the restarted agent resumes the patch from the journal checkpoint, then completes the update', async () => {
    const sim = await newDevice(OPS_ONLY);
    const run = await ota(sim, ['install', fixture.storeDir], { OTA_DEVICE_CRASH_AT: 'install:ops-checkpointed' });
    expect(run.signal, run.stderr).toBe('SIGKILL');

    // Killed after a checkpoint was made durable: the journal holds it, the partial output is there.
    const journal = JSON.parse(await readFile(join(sim.config.stateDir, 'install-journal.json'), 'utf8'));
    expect(journal).toMatchObject({ step: 'started', artifact: 'delta', version: '1.0.1' });
    expect(journal.opsCheckpoint.opIndex).toBeGreaterThan(0);
    expect(journal.opsCheckpoint.targetOffset).toBeGreaterThan(0);
    expect(journal.opsCheckpoint.targetOffset).toBeLessThan(fixture.releases['1.0.1']!.length);
    const s = await status(sim);
    expect(s.installInProgress).toBeTruthy();
    await assertEveryBootableSlotVerifies(sim, 'after the kill');

    // Power back on: the agent's boot run finishes the interrupted install from the checkpoint.
    const resumed = await ota(sim, ['run', '--once']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(`${resumed.stdout}${resumed.stderr}`).toContain(`resuming the ops delta at op ${journal.opsCheckpoint.opIndex} (${journal.opsCheckpoint.targetOffset} of`);
    expect(`${resumed.stdout}${resumed.stderr}`).toContain(`resumed at op ${journal.opsCheckpoint.opIndex}`);
    expect(`${resumed.stdout}${resumed.stderr}`).toContain('ops delta applied by the native applier (ota-apply-ops)');
    const { killed } = await live(sim, {});
    expect(killed).toBeNull();
    const done = await status(sim);
    expect(updated(done)).toBe(true);
    expect(await sha256File(sim.config.slots.B, fixture.releases['1.0.1']!.length)).toBe(fixture.releases['1.0.1']!.sha256);
  }, 300_000);

  it('SIGKILL at every point of an ops install: always boots a verified slot, then completes the update', async () => {
    const sim = await newDevice(OPS_ONLY);
    const trace = join(sim.dir, 'trace.txt');
    expect(await live(sim, { OTA_DEVICE_CRASH_TRACE: trace })).toEqual({ killed: null, boots: 1 });
    const opsPoints = [...new Set((await readFile(trace, 'utf8')).split('\n').filter(Boolean))];
    expect(opsPoints).toEqual(expect.arrayContaining(['install:journal-started', 'install:ops-checkpointed', 'install:ops-applied', 'install:slot-half-written']));
    const failures: string[] = [];
    for (const point of opsPoints.filter((p) => p.startsWith('install:'))) {
      const device = await newDevice(OPS_ONLY);
      try {
        const { killed } = await live(device, { OTA_DEVICE_CRASH_AT: point });
        expect(killed, `${point} was never reached`).not.toBeNull();
      } catch (error) {
        failures.push(`${point}: ${(error as Error).message}`);
      }
    }
    expect(failures).toEqual([]);
  }, 600_000);
});
