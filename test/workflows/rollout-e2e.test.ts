// Rollouts end to end: the real RolloutWorkflow on a real Temporal dev server, the real gateway
// over HTTP with the fleet store (PGlite) it shares with the worker, real signed releases from the
// release pipeline, and a fleet of simulated devices speaking the signed device protocol.
import { abortUpdate, approveUpdate, pauseSignal, resumeSignal, rolloutStatusQuery, rolloutWorkflow } from '../../workflows/rollout.js';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { buildSampleImage } from '../../demo/sample-image.js';
import { parsePolicy, type RolloutPolicy } from '../../rollout/policy.js';
import type { RolloutRequest, RolloutStatus } from '../../rollout/types.js';
import type { BehaviourModel } from '../../sim/protocol-device.js';
import type { ProtocolFleet } from '../../sim/protocol-fleet.js';
import { failureMessage } from '../../temporal/failure-message.js';
import { HARDWARE, ReleaseHarness } from '../support/release-harness.js';
import { enrollFleet, ringOpenings, tickUntil, InProcessServices } from '../support/rollout-fleet.js';
import { startTemporal } from '../support/temporal.js';

const QUEUE = 'rollout-e2e';

const policy = (over: Record<string, unknown> = {}): RolloutPolicy =>
  parsePolicy({
    target: { hardware: HARDWARE },
    rings: [
      { name: 'canary', size: { count: 2 }, bakeTime: '1s', minReports: 2, thresholds: { failureRate: 0.2, maxFailures: 0, perKind: { boot: { count: 0 } } }, onBreach: 'rollback' },
      { name: 'half', size: { percent: 50 }, bakeTime: '1s', minReports: 3, thresholds: { failureRate: 0.2, maxFailures: 1 }, onBreach: 'halt' },
      { name: 'fleet', size: { percent: 100 }, bakeTime: '1s', minReports: 5, thresholds: { failureRate: 0.2, maxFailures: 2 }, onBreach: 'halt' },
    ],
    exposureBudget: { percent: 100 },
    maxConcurrentInstalls: 50,
    pollInterval: '300ms',
    ...over,
  });

describe('rollouts through canary rings with a simulated fleet', () => {
  let env: TestWorkflowEnvironment;
  let releases: ReleaseHarness;
  let services: InProcessServices;
  let client: Client;
  let fleet: ProtocolFleet;
  const crashing = new Set<string>();
  /** Releases that crash-loop only in one region: version -> region. */
  const crashingIn = new Map<string, string>();
  /** Releases in `crashing` crash-loop on boot and fall back; everything else commits. */
  const behaviour: BehaviourModel = (device, release) =>
    crashing.has(release.version) || crashingIn.get(release.version) === device.labels.region ? { result: 'fail', kind: 'boot', fallsBack: true } : { result: 'commit' };

  beforeAll(async () => {
    const temporal = await startTemporal();
    env = temporal.env;
    releases = await ReleaseHarness.start(env.address, 'rollout-e2e-releases');
    const images = await mkdtemp(join(tmpdir(), 'ota-rollout-images-'));
    for (const [version, crash, securityVersion] of [['1.0.0', false, 1], ['1.1.0', false, 1], ['1.2.0', true, 1], ['1.3.0', false, 1], ['1.4.0', true, 2]] as const) {
      const image = join(images, `fw-${version}.tar`);
      buildSampleImage({ version, out: image, crashLoop: crash });
      await releases.publish({ image, version, securityVersion });
    }
    crashing.add('1.2.0');
    crashing.add('1.4.0');

    services = await InProcessServices.start(releases, QUEUE);
    client = releases.client;

    fleet = await enrollFleet(releases, services.admission, 10, '1.0.0', (i) => ({ region: i % 2 ? 'eu' : 'us' }));
  }, 180_000);

  afterAll(async () => {
    await services?.close();
    await releases?.close();
    await env?.teardown();
  });

  async function startRollout(version: string, p: RolloutPolicy, id = `rollout-${version}-${Date.now()}`): Promise<WorkflowHandle> {
    const request: RolloutRequest = { rolloutId: id, hardwareId: HARDWARE, channel: 'stable', releaseVersion: version, policy: p, requestedBy: 'test' };
    return client.workflow.start(rolloutWorkflow, { taskQueue: QUEUE, workflowId: id, args: [request] });
  }

  /** Devices check in every 200 ms until the rollout ends; returns its final status. */
  async function driveUntilDone(handle: WorkflowHandle, onTick?: (status: RolloutStatus) => Promise<void>): Promise<RolloutStatus> {
    let done = false;
    const result = handle.result().finally(() => (done = true)) as Promise<RolloutStatus>;
    while (!done) {
      await fleet.tick(behaviour);
      if (onTick) await onTick(await handle.query(rolloutStatusQuery));
      await new Promise((r) => setTimeout(r, 200));
    }
    return result;
  }

  it('a good release reaches every device, ring by ring', async () => {
    const handle = await startRollout('1.1.0', policy());
    const exposures: number[] = [];
    const status = await driveUntilDone(handle, async (s) => {
      exposures.push(s.exposure.devices);
    });
    expect(status.state).toBe('completed');
    expect(status.rings.map((r) => r.state)).toEqual(['passed', 'passed', 'passed']);
    expect(status.rings.map((r) => r.assigned)).toEqual([2, 3, 5]);
    expect(fleet.versions()).toEqual({ '1.1.0': 10 });
    // Every device fetched a delta from 1.0.0 through the gateway, not the full image.
    expect(fleet.devices.every((d) => d.downloaded?.kind === 'delta')).toBe(true);
    // Exposure only grows, ring by ring: 2, then 5, then 10.
    expect([...new Set(exposures)]).toEqual(expect.arrayContaining([2, 5, 10]));
    expect(status.decisions.map((d) => d.action)).toEqual(expect.arrayContaining(['plan', 'open-ring', 'pass', 'finish']));
  }, 120_000);

  it('a crash-looping release halts in the canary ring and every exposed device returns', async () => {
    const handle = await startRollout('1.2.0', policy());
    const status = await driveUntilDone(handle);
    expect(status.state).toBe('rolled-back');
    expect(status.rings[0]).toMatchObject({ name: 'canary', state: 'breached' });
    expect(status.rings[1]!.state).toBe('pending');
    expect(status.exposure.devices).toBe(2);
    const breach = status.decisions.find((d) => d.action === 'rollback');
    expect(breach?.reason).toMatch(/boot failures|devices failed/);
    // Everyone is on the previous release; nobody outside the canary ever ran 1.2.0.
    expect(fleet.versions()).toEqual({ '1.1.0': 10 });
    const touched = fleet.devices.filter((d) => d.other?.version === '1.2.0' || d.current.version === '1.2.0');
    expect(touched.length).toBeLessThanOrEqual(2);
  }, 120_000);

  it('operator controls: approve needs a waiting ring, abort works once, pause holds the rollout', async () => {
    const gated = policy({
      rings: [
        { name: 'canary', size: { count: 2 }, bakeTime: '1s', minReports: 2, thresholds: { failureRate: 0.2, maxFailures: 0 }, onBreach: 'halt' },
        { name: 'fleet', size: { percent: 100 }, bakeTime: '1s', minReports: 2, thresholds: { failureRate: 0.2, maxFailures: 0 }, onBreach: 'halt', approval: true },
      ],
    });
    // Rolling back to 1.0.0 is not offered by this policy; roll 1.2.0's predecessor forward again instead:
    crashing.delete('1.2.0');
    const handle = await startRollout('1.2.0', gated);
    const early = await handle.executeUpdate(approveUpdate, { args: [{ reason: 'too soon' }] }).catch((e) => failureMessage(e));
    expect(early).toMatch(/nothing is waiting for approval/);

    await handle.signal(pauseSignal, { reason: 'lunch', by: 'test' });
    for (let i = 0; i < 5; i++) await fleet.tick(behaviour);
    let status = await handle.query(rolloutStatusQuery);
    expect(status.paused).toBe(true);
    // Paused before the canary opened: no device got the release.
    expect(fleet.versions()['1.2.0'] ?? 0).toBe(0);
    await handle.signal(resumeSignal, { reason: 'back', by: 'test' });

    for (let i = 0; i < 100; i++) {
      await fleet.tick(behaviour);
      status = await handle.query(rolloutStatusQuery);
      if (status.waitingApprovalFor) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(status.waitingApprovalFor).toBe('fleet');
    expect(fleet.versions()['1.2.0']).toBe(2);
    expect(await handle.executeUpdate(approveUpdate, { args: [{ reason: 'canary looks good', by: 'test' }] })).toBe('approved ring fleet');

    expect(await handle.executeUpdate(abortUpdate, { args: [{ reason: 'changed our minds', by: 'test' }] })).toMatch(/aborting/);
    const twice = await handle.executeUpdate(abortUpdate, { args: [{}] }).catch((e) => failureMessage(e));
    expect(twice).toMatch(/already/);
    const final = (await handle.result()) as RolloutStatus;
    expect(final.state).toBe('aborted');
    expect(final.decisions.map((d) => d.action)).toEqual(expect.arrayContaining(['pause', 'resume', 'approve', 'abort']));
    // Held: after the abort no further device gets 1.2.0.
    const before = fleet.versions()['1.2.0'] ?? 0;
    for (let i = 0; i < 3; i++) await fleet.tick(behaviour);
    expect(fleet.versions()['1.2.0'] ?? 0).toBe(before);
  }, 120_000);

  it('a release that fails only in one region halts when that region\'s ring breaches', async () => {
    crashingIn.set('1.3.0', 'us');
    const byRegion = policy({
      rings: [
        { name: 'eu', labels: { region: 'eu' }, size: { percent: 50 }, bakeTime: '1s', minReports: 5, thresholds: { failureRate: 0.2, maxFailures: 0 }, onBreach: 'halt' },
        { name: 'us', labels: { region: 'us' }, size: { percent: 100 }, bakeTime: '1s', minReports: 3, thresholds: { failureRate: 0.2, maxFailures: 1 }, onBreach: 'halt' },
      ],
    });
    const handle = await startRollout('1.3.0', byRegion);
    const status = await tickUntil(fleet, behaviour, handle, (st) => st.state === 'halted');
    expect(status.state).toBe('halted');
    expect(status.rings.map((r) => [r.name, r.state])).toEqual([['eu', 'passed'], ['us', 'breached']]);
    const eu = fleet.devices.filter((d) => d.labels.region === 'eu');
    const us = fleet.devices.filter((d) => d.labels.region === 'us');
    expect(eu.every((d) => d.current.version === '1.3.0')).toBe(true);
    // Every us device that tried 1.3.0 fell back; none runs it.
    expect(us.some((d) => d.current.version === '1.3.0')).toBe(false);
    expect(status.decisions.find((d) => d.action === 'halt')?.reason).toMatch(/devices failed/);
    await handle.executeUpdate(abortUpdate, { args: [{ reason: 'fix the us build first' }] });
    expect(((await handle.result()) as RolloutStatus).state).toBe('aborted');
  }, 120_000);

  it('a worker that goes away during bake time loses nothing', async () => {
    const slow = policy({
      rings: [
        { name: 'canary', size: { count: 2 }, bakeTime: '3s', minReports: 2, thresholds: { failureRate: 0.2, maxFailures: 0 }, onBreach: 'halt' },
        { name: 'fleet', size: { percent: 100 }, bakeTime: '1s', minReports: 5, thresholds: { failureRate: 0.2, maxFailures: 2 }, onBreach: 'halt' },
      ],
    });
    const handle = await startRollout('1.1.0', slow);
    let status = await handle.query(rolloutStatusQuery);
    for (let i = 0; i < 100 && status.rings[0]!.state !== 'baking'; i++) {
      await fleet.tick(behaviour);
      await new Promise((r) => setTimeout(r, 100));
      status = await handle.query(rolloutStatusQuery);
    }
    expect(status.rings[0]!.state).toBe('baking');
    // The worker stops mid-bake; a new one (fresh process state) replays the history and carries on.
    await services.stopWorker();
    for (let i = 0; i < 3; i++) await fleet.tick(behaviour);
    await services.startWorker();
    const final = await driveUntilDone(handle);
    expect(final.state).toBe('completed');
    // No ring lost or repeated: one plan, each ring opened and passed exactly once.
    expect(ringOpenings(final)).toEqual({ plan: 1, canary: 1, fleet: 1 });
    expect(fleet.versions()).toEqual({ '1.1.0': 10 });
  }, 120_000);

  it('a release that raised the security version is halted, not rolled back below it', async () => {
    const handle = await startRollout('1.4.0', policy());
    const status = await tickUntil(fleet, behaviour, handle, (st) => st.state === 'halted');
    expect(status.state).toBe('halted');
    const halt = status.decisions.find((d) => d.action === 'halt');
    expect(halt?.reason).toMatch(/rollback not allowed \(1\.4\.0 raised the security version to 2 \(from 1\)/);
    expect(status.exposure.devices).toBe(2);
    // Halted: the devices outside the canary are held at check-in.
    await fleet.tick(behaviour);
    const held = fleet.devices.filter((d) => d.lastResponse?.action === 'hold').length;
    expect(held).toBeGreaterThanOrEqual(8);
    await handle.executeUpdate(abortUpdate, { args: [{ reason: 'security fix needs a new build' }] });
    await handle.result();
  }, 120_000);

  it('refuses a second rollout of the same hardware while one is open', async () => {
    const first = await startRollout('1.1.0', policy({ rings: [{ name: 'all', size: { percent: 100 }, bakeTime: '1h', minReports: 1, thresholds: { failureRate: 0.5, maxFailures: 5 }, onBreach: 'halt' }] }));
    // Wait until the first has its plan (and its open rollout row).
    for (let i = 0; i < 50; i++) {
      const s = await first.query(rolloutStatusQuery);
      if (s.state !== 'starting') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const second = await startRollout('1.1.0', policy());
    const error = await second.result().catch((e) => failureMessage(e));
    expect(error).toMatch(/still open; finish or abort it first/);
    await first.executeUpdate(abortUpdate, { args: [{ reason: 'cleanup' }] });
    await first.result();
  }, 60_000);
});
