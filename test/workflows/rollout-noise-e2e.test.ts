// Rollouts on a fleet as users meet it, end to end: the real RolloutWorkflow on a Temporal dev
// server, the real gateway over HTTP and its fleet store (PGlite), signed releases, and simulated
// protocol devices with seeded noise (sim/fleet-noise.ts): devices that never check in, releases
// that brick devices (no report ever), installs that fail for unrelated reasons, failing heartbeats.
// Each test has its own devices (a `group` label the policy targets), so the tests share one stack.
import { abortUpdate, approveUpdate, rolloutStatusQuery, rolloutWorkflow } from '../../workflows/rollout.js';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { buildSampleImage } from '../../demo/sample-image.js';
import { parsePolicy, type RolloutPolicy } from '../../rollout/policy.js';
import type { RolloutRequest, RolloutStatus } from '../../rollout/types.js';
import type { BehaviourModel, CheckinOutcome, HeartbeatModel } from '../../sim/protocol-device.js';
import type { ProtocolFleet } from '../../sim/protocol-fleet.js';
import { HARDWARE, ReleaseHarness } from '../support/release-harness.js';
import { enrollFleet, InProcessServices } from '../support/rollout-fleet.js';
import { startTemporal } from '../support/temporal.js';

const QUEUE = 'rollout-noise-e2e';
const commit: BehaviourModel = () => ({ result: 'commit' });
/** Caps far above the noise, so only the sequential test (and the deadlines) decide. */
const loose = { failureRate: 0.95, maxFailures: 1000 };
/** α 5% over the rings, β 10%, +40 points over 10%: a handful of reports decides a small ring. */
const statistics = { mode: 'sequential', alpha: 0.05, beta: 0.1, minEffect: 0.4, baselineRate: 0.1 };

const policy = (group: string, rings: unknown[], over: Record<string, unknown> = {}): RolloutPolicy =>
  parsePolicy({ target: { hardware: HARDWARE, labels: { group } }, rings, statistics, exposureBudget: { percent: 100 }, maxConcurrentInstalls: 50, pollInterval: '400ms', ...over });

describe('rollouts on a noisy fleet: silent devices, bricking releases, install and heartbeat noise', () => {
  let env: TestWorkflowEnvironment;
  let releases: ReleaseHarness;
  let services: InProcessServices;
  let client: Client;

  beforeAll(async () => {
    const temporal = await startTemporal();
    env = temporal.env;
    releases = await ReleaseHarness.start(env.address, 'rollout-noise-releases');
    const images = await mkdtemp(join(tmpdir(), 'ota-rollout-noise-images-'));
    for (const version of ['1.0.0', '1.1.0', '1.2.0', '1.3.0']) {
      const image = join(images, `fw-${version}.tar`);
      buildSampleImage({ version, out: image, crashLoop: false });
      await releases.publish({ image, version, securityVersion: 1 });
    }
    services = await InProcessServices.start(releases, QUEUE);
    client = releases.client;
  }, 240_000);

  afterAll(async () => {
    await services?.close();
    await releases?.close();
    await env?.teardown();
  });

  async function start(version: string, p: RolloutPolicy): Promise<WorkflowHandle> {
    const id = `noise-${version}-${Date.now()}`;
    const request: RolloutRequest = { rolloutId: id, hardwareId: HARDWARE, channel: 'stable', releaseVersion: version, policy: p, requestedBy: 'test' };
    return client.workflow.start(rolloutWorkflow, { taskQueue: QUEUE, workflowId: id, args: [request] });
  }

  interface Drive {
    health?: HeartbeatModel;
    limitMs?: number;
    seen?: (o: CheckinOutcome, id: string) => void;
  }

  /** One check-in of every device of the fleets (and a heartbeat, with `health`); the outcomes go to `seen`. */
  async function tickAll(fleets: ProtocolFleet[], behaviour: BehaviourModel, opts: Drive): Promise<void> {
    for (const fleet of fleets) {
      const outcomes = await fleet.tick(behaviour);
      outcomes.forEach((o, i) => opts.seen?.(o, fleet.devices[i]!.id));
      if (opts.health) await fleet.heartbeats(opts.health);
    }
  }

  /** The fleets tick every 150 ms until the rollout's status satisfies `reached` (or `limitMs`, default 90 s, pass). */
  async function driveUntil(handle: WorkflowHandle, fleets: ProtocolFleet[], behaviour: BehaviourModel, reached: (s: RolloutStatus) => boolean, opts: Drive = {}): Promise<RolloutStatus> {
    const until = Date.now() + (opts.limitMs ?? 90_000);
    let status = await handle.query(rolloutStatusQuery);
    while (!reached(status) && Date.now() < until) {
      await tickAll(fleets, behaviour, opts);
      await new Promise((r) => setTimeout(r, 150));
      status = await handle.query(rolloutStatusQuery);
    }
    return status;
  }

  it('a ring whose devices are silent holds as inconclusive at its decision deadline; approve moves on to the next ring', async () => {
    const label = (site: string) => () => ({ group: 'a', site });
    const quiet = await enrollFleet(releases, services.admission, 5, '1.0.0', label('quiet'), { idPrefix: 'quiet', noise: { seed: 1, silentShare: 1 } });
    const live = await enrollFleet(releases, services.admission, 5, '1.0.0', label('live'), { idPrefix: 'live' });
    const handle = await start('1.2.0', policy('a', [
      { name: 'quiet', labels: { site: 'quiet' }, size: { count: 5 }, bakeTime: '1s', minReports: 5, thresholds: loose, onBreach: 'halt', decisionDeadline: '5s' },
      // Bakes an hour: still open when the test aborts it, however slow the machine.
      { name: 'rest', size: { percent: 100 }, bakeTime: '1h', minReports: 5, thresholds: loose, onBreach: 'halt', decisionDeadline: '2h' },
    ]));
    const held = await driveUntil(handle, [quiet, live], commit, (s) => s.hold !== undefined || ['completed', 'halted'].includes(s.state));
    expect(held.state).toBe('waiting-approval');
    expect(held.hold).toMatchObject({ reason: 'inconclusive', ring: 'quiet' });
    expect(held.hold!.detail).toMatch(/decision deadline/);
    // Held at its deadline, not before: 5 s after the ring opened.
    const opened = Date.parse(held.rings[0]!.openedAt!);
    expect(Date.parse(held.hold!.since) - opened).toBeGreaterThanOrEqual(5_000);
    expect(held.rings[0]!.health?.reported ?? 0).toBe(0);
    expect(live.versions()).toEqual({ '1.0.0': 5 });

    expect(await handle.executeUpdate(approveUpdate, { args: [{ reason: 'the quiet site is offline this week', by: 'test' }] })).toMatch(/approved/);
    // The approved ring counts as passed and the next one opens: its devices get the release.
    const moved = await driveUntil(handle, [quiet, live], commit, () => live.versions()['1.2.0'] === 5);
    expect(moved.rings.map((r) => r.state)).toEqual(['passed', 'baking']);
    expect(quiet.versions()).toEqual({ '1.0.0': 5 });
    expect(moved.decisions.map((d) => d.action)).toEqual(expect.arrayContaining(['approve', 'open-ring']));
    // Abort ends it (and keeps 1.2.0 from being released to the hardware by a finished rollout).
    await handle.executeUpdate(abortUpdate, { args: [{ reason: 'test over', by: 'test' }] });
    expect(((await handle.result()) as RolloutStatus).state).toBe('aborted');
  }, 150_000);

  it('a release that bricks devices (never a report) is halted on timed-out counts and the exposed devices are ordered back', async () => {
    const fleet = await enrollFleet(releases, services.admission, 16, '1.0.0', (i) => ({ group: 'b', ring: i < 8 ? 'canary' : 'rest' }), { idPrefix: 'brick' });
    // Exactly half the canary bricks: it takes the offer, starts, and is never heard from again.
    const bricking = new Set(['brick-00000', 'brick-00002', 'brick-00004', 'brick-00006']);
    const behaviour: BehaviourModel = (d) => (bricking.has(d.id) ? { result: 'brick' } : { result: 'commit' });
    // 1.1.0: the release just above the one the devices run, so a rollback returns them to 1.0.0.
    const handle = await start('1.1.0', policy('b', [
      // β 1% for the canary: four commits alone never pass it before the bricked devices time out.
      { name: 'canary', labels: { ring: 'canary' }, size: { count: 8 }, bakeTime: '3s', minReports: 8, thresholds: loose, onBreach: 'rollback', installDeadline: '3s', decisionDeadline: '120s', beta: 0.01 },
      { name: 'rest', size: { percent: 100 }, bakeTime: '1s', minReports: 8, thresholds: loose, onBreach: 'halt', decisionDeadline: '120s' },
    ]));
    const orderedBack = new Set<string>();
    const seen = (o: CheckinOutcome, id: string) => o.action === 'rolled-back' && orderedBack.add(id);
    const ended = await driveUntil(handle, [fleet], behaviour, (s) => ['rolled-back', 'completed', 'halted'].includes(s.state), { seen });
    expect(ended.state).toBe('rolled-back');
    expect(ended.rings.map((r) => r.state)).toEqual(['breached', 'pending']);
    const breach = ended.decisions.find((d) => d.action === 'rollback')!;
    expect(breach.reason).toMatch(/sequential test/);
    expect(ended.rings[0]!.health).toMatchObject({ assigned: 8, committed: 4, failed: 4 });
    expect(ended.rings[0]!.health!.failuresByKind['timed-out']).toBe(4);
    expect(ended.exposure.devices).toBe(8);
    // The four canaries that installed it were told to return, and did.
    expect([...orderedBack].sort()).toEqual(['brick-00001', 'brick-00003', 'brick-00005', 'brick-00007']);
    expect(fleet.versions()).toEqual({ '1.0.0': 16 });
    expect(fleet.devices.filter((d) => d.labels.ring === 'rest').every((d) => d.downloaded === undefined)).toBe(true);
    // The bricked devices come back (watchdog: the intact old slot): the rolled-back release is never offered again.
    expect(fleet.devices.filter((d) => d.revive()).map((d) => d.id)).toEqual([...bricking]);
    const back = await fleet.tick(behaviour);
    expect(back.filter((o) => o.action !== 'none' && o.action !== 'hold')).toEqual([]);
    expect(fleet.versions()).toEqual({ '1.0.0': 16 });
  }, 150_000);

  it('a device whose install failed is not offered the release again at later check-ins, until an operator clears it', async () => {
    const fleet = await enrollFleet(releases, services.admission, 6, '1.0.0', () => ({ group: 'c' }), { idPrefix: 'retry' });
    const failing = new Set(['retry-00000']);
    const behaviour: BehaviourModel = (d) => (failing.has(d.id) ? { result: 'fail', kind: 'install', fallsBack: false } : { result: 'commit' });
    // One ring that bakes an hour: the rollout stays open while the device checks in again and again.
    const handle = await start('1.3.0', policy('c', [{ name: 'all', size: { percent: 100 }, bakeTime: '1h', minReports: 6, thresholds: { failureRate: 0.9, maxFailures: 5 }, onBreach: 'halt' }], { statistics: { mode: 'simple' } }));
    const device = fleet.devices.find((d) => d.id === 'retry-00000')!;
    const attempts: string[] = [];
    const seen = (o: CheckinOutcome, id: string) => id === device.id && attempts.push(o.action);
    await driveUntil(handle, [fleet], behaviour, () => attempts.includes('failed'), { seen, limitMs: 60_000 });
    expect(attempts).toContain('failed');
    for (let i = 0; i < 4; i++) await tickAll([fleet], behaviour, { seen });
    // One attempt, then four check-ins answered "none" with the reason; the others all updated.
    expect(attempts.filter((a) => a === 'failed')).toHaveLength(1);
    expect(attempts.slice(attempts.indexOf('failed') + 1)).toEqual(['none', 'none', 'none', 'none']);
    expect(device.lastResponse).toMatchObject({ action: 'none' });
    expect((device.lastResponse as { reason?: string }).reason).toMatch(/1\.3\.0 failed on this device \(install, .*not offered again until an operator runs `ota fleet retry retry-00000`/);
    expect(fleet.versions()).toEqual({ '1.0.0': 1, '1.3.0': 5 });

    // `ota fleet retry retry-00000` (the store call behind it): offered again at the next check-in.
    expect(await services.fleetStore.retryDevice(device.id, '1.3.0')).toEqual([expect.objectContaining({ releaseVersion: '1.3.0' })]);
    failing.clear();
    await tickAll([fleet], behaviour, { seen });
    expect(attempts.at(-1)).toBe('updated');
    expect(fleet.versions()).toEqual({ '1.3.0': 6 });
    await handle.executeUpdate(abortUpdate, { args: [{ reason: 'test over', by: 'test' }] });
    expect(((await handle.result()) as RolloutStatus).state).toBe('aborted');
  }, 150_000);

  it('a good release completes through install noise, heartbeat noise and a silent share', async () => {
    // Seed 24: 3 of the 30 devices silent (00009, 00010, 00024); 00000 and 00027 fail their install (2% noise).
    // 3% of heartbeat windows fail on either release. The devices heartbeat every 150 ms, so the last ring
    // bakes over many more windows than the canary whose control froze its reference: cohorts count
    // windows, not devices failed in any window, so the rates stay comparable (docs/rollouts.md).
    const noise = { seed: 24, silentShare: 0.1, installFailureRate: 0.02, heartbeatFailureRate: 0.03 };
    const fleet = await enrollFleet(releases, services.admission, 30, '1.0.0', () => ({ group: 'd' }), { idPrefix: 'noisy', noise });
    const silent = fleet.devices.filter((d) => fleet.noise.isSilent(d.id)).map((d) => d.id);
    expect(silent).toEqual(['noisy-00009', 'noisy-00010', 'noisy-00024']);
    const failedInstall = new Set<string>();
    const seen = (o: CheckinOutcome, id: string) => o.action === 'failed' && o.kind === 'install' && failedInstall.add(id);
    const handle = await start('1.3.0', policy('d', [
      // installDeadline ≤ bakeTime (the policy refuses longer: a ring could pass before its bricked devices time out).
      { name: 'canary', size: { count: 10 }, bakeTime: '8s', minReports: 5, thresholds: loose, onBreach: 'halt', installDeadline: '8s', decisionDeadline: '8s', atDeadline: 'pass' },
      { name: 'fleet', size: { percent: 100 }, bakeTime: '8s', minReports: 10, thresholds: loose, onBreach: 'halt', installDeadline: '8s', decisionDeadline: '8s', atDeadline: 'pass' },
    ]));
    const done = await driveUntil(handle, [fleet], commit, (s) => ['completed', 'halted', 'rolled-back', 'waiting-approval'].includes(s.state), { health: () => ({}), seen });
    expect(done.state).toBe('completed');
    expect(done.rings.map((r) => r.state)).toEqual(['passed', 'passed']);
    expect([...failedInstall].sort()).toEqual(['noisy-00000', 'noisy-00027']);
    // Everyone reachable whose install did not fail runs the release; silent and failed devices stay on 1.0.0.
    expect(fleet.versions()).toEqual({ '1.3.0': 25, '1.0.0': 5 });
    for (const id of [...silent, ...failedInstall]) expect(fleet.devices.find((d) => d.id === id)!.current.version).toBe('1.0.0');
  }, 150_000);
});
