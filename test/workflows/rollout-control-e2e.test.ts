// The control cohort end to end: the real RolloutWorkflow on a Temporal dev server, the real gateway
// and fleet store, signed releases, and simulated devices that send signed heartbeats every tick
// with seeded background noise (release and previous release alike). A release that installs fine
// but crash-loops after commit halts in the canary on the sequential test against the control; a
// good release goes through the same noise.
import { abortUpdate, rolloutStatusQuery, rolloutWorkflow } from '../../workflows/rollout.js';
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
import { backgroundNoise, type ProtocolFleet } from '../../sim/protocol-fleet.js';
import { HARDWARE, ReleaseHarness } from '../support/release-harness.js';
import { enrollFleet, InProcessServices } from '../support/rollout-fleet.js';
import { startTemporal } from '../support/temporal.js';

const QUEUE = 'rollout-control-e2e';

// Caps far above the noise: only the sequential test decides. α 5% over 2 rings, β 10%,
// +40 points over 10% (RR 5): a handful of failures decides a 10-device canary against 20 controls.
// `deadline`: the good release passes undecided rings at it; the crash-looping one gets a long one so the
// halt comes from the data and never from a loaded machine's clock.
const policy = (deadline = '8s'): RolloutPolicy =>
  parsePolicy({
    target: { hardware: HARDWARE },
    rings: [
      { name: 'canary', size: { count: 10 }, bakeTime: '1s', minReports: 10, thresholds: { failureRate: 0.95, maxFailures: 1000 }, onBreach: 'halt', decisionDeadline: deadline, atDeadline: 'pass' },
      { name: 'fleet', size: { percent: 100 }, bakeTime: '1s', minReports: 20, thresholds: { failureRate: 0.95, maxFailures: 1000 }, onBreach: 'halt', decisionDeadline: deadline, atDeadline: 'pass' },
    ],
    statistics: { mode: 'sequential', alpha: 0.05, beta: 0.1, minEffect: 0.4, baselineRate: 0.1 },
    exposureBudget: { percent: 100 },
    maxConcurrentInstalls: 50,
    pollInterval: '400ms',
  });

describe('rollouts judged against a control cohort from heartbeats', () => {
  let env: TestWorkflowEnvironment;
  let releases: ReleaseHarness;
  let services: InProcessServices;
  let client: Client;
  let fleet: ProtocolFleet;
  /** Every release installs and commits; 1.2.0 then crash-loops in every window. */
  const installs: BehaviourModel = () => ({ result: 'commit' });
  const crashAfterCommit = new Set(['1.2.0']);

  beforeAll(async () => {
    const temporal = await startTemporal();
    env = temporal.env;
    releases = await ReleaseHarness.start(env.address, 'rollout-control-releases');
    const images = await mkdtemp(join(tmpdir(), 'ota-rollout-control-images-'));
    for (const version of ['1.0.0', '1.1.0', '1.2.0']) {
      const image = join(images, `fw-${version}.tar`);
      buildSampleImage({ version, out: image, crashLoop: false });
      await releases.publish({ image, version, securityVersion: 1 });
    }
    services = await InProcessServices.start(releases, QUEUE);
    client = releases.client;
    fleet = await enrollFleet(releases, services.admission, 30, '1.0.0');
  }, 240_000);

  afterAll(async () => {
    await services?.close();
    await releases?.close();
    await env?.teardown();
  });

  /** Devices check in and heartbeat every tick until the rollout completes or halts (a halted one is then aborted). */
  async function drive(version: string, seed: number, deadline?: string): Promise<RolloutStatus> {
    const id = `control-${version}-${Date.now()}`;
    const request: RolloutRequest = { rolloutId: id, hardwareId: HARDWARE, channel: 'stable', releaseVersion: version, policy: policy(deadline), requestedBy: 'test' };
    const handle: WorkflowHandle = await client.workflow.start(rolloutWorkflow, { taskQueue: QUEUE, workflowId: id, args: [request] });
    // 3% background health failures per window on every device, whatever it runs.
    const health = backgroundNoise(0.03, seed, (d) => (crashAfterCommit.has(d.current.version) ? { crashLoop: true } : {}));
    let status = await handle.query(rolloutStatusQuery);
    for (let i = 0; i < 300 && !['completed', 'halted', 'waiting-approval'].includes(status.state); i++) {
      await fleet.tick(installs);
      await fleet.heartbeats(health);
      await new Promise((r) => setTimeout(r, 150));
      status = await handle.query(rolloutStatusQuery);
    }
    if (status.state !== 'completed') {
      await handle.executeUpdate(abortUpdate, { args: [{ reason: 'test over', by: 'test' }] });
      await handle.result();
    }
    return status;
  }

  it('a good release completes through background noise shared with the control', async () => {
    const status = await drive('1.1.0', 11);
    expect(status.state).toBe('completed');
    const canary = status.rings[0]!;
    expect(canary.state).toBe('passed');
    expect(fleet.versions()).toEqual({ '1.1.0': 30 });
    // The canary was measured against the devices still on 1.0.0: by the conditional test, or, at a
    // look where the control had not failed once yet, one-sample against its cautious rate.
    const sequential = canary.verdict!.figures.sequential!;
    expect(['control', 'a quiet control']).toContain(sequential.yardstick);
    if (sequential.yardstick === 'control') {
      expect(sequential.method).toBe('conditional-binomial');
      expect(sequential.control!.observed).toBeGreaterThanOrEqual(15);
    } else expect(sequential).toMatchObject({ method: 'one-sample', control: null });
  }, 180_000);

  it('a release that commits but crash-loops after commit halts in the canary on the test against the control', async () => {
    const status = await drive('1.2.0', 12, '150s');
    expect(status.state).toBe('halted');
    expect(status.rings[0]).toMatchObject({ name: 'canary', state: 'breached' });
    expect(status.rings[1]!.state).toBe('pending');
    const halt = status.decisions.find((d) => d.action === 'halt');
    // Against the control; or, at a look where the control had not failed once yet, against its cautious rate.
    expect(halt?.reason).toMatch(/sequential test .*post-commit health vs (control|a quiet control): halt: release failing more than (control|reference)/);
    expect(status.exposure.devices).toBe(10);
  }, 180_000);
});
