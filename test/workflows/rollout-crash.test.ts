// Durability for real: `ota serve` (gateway + worker + the PGlite fleet store in one process) is
// SIGKILLed while the canary ring bakes, then started again on the same state. The rollout must
// carry on from the workflow history: no ring lost or opened twice, every device updated once.
import { rolloutStatusQuery, rolloutWorkflow } from '../../workflows/rollout.js';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { RolloutRequest, RolloutStatus } from '../../rollout/types.js';
import { ensureDist } from '../support/dist.js';
import { otaServeEnv, spawnOtaServe } from '../support/ota-serve.js';
import { HARDWARE, ReleaseHarness } from '../support/release-harness.js';
import { canaryThenFleet, ENROLLMENT_TOKEN, enrollFleet, ringOpenings } from '../support/rollout-fleet.js';
import { startTemporal } from '../support/temporal.js';
import { freePort } from '../../platform/free-port.js';

const QUEUE = 'rollout-crash';

describe('ota serve killed mid-rollout', () => {
  let skipReason: string | undefined;
  let env: TestWorkflowEnvironment;
  let releases: ReleaseHarness;
  let serve: ChildProcess | undefined;
  let port: number;
  let gatewayUrl: string;

  const startServe = async () => {
    serve = await spawnOtaServe(port, otaServeEnv(releases, env.address, QUEUE), ['--poll-after', '1', '--release-policy', 'rollouts']);
  };

  beforeAll(async () => {
    skipReason = await ensureDist();
    if (skipReason) {
      console.error(`\n*** SKIPPING rollout crash test: ${skipReason} ***\n`);
      return;
    }
    ({ env } = await startTemporal());
    releases = await ReleaseHarness.start(env.address, 'rollout-crash-releases');
    const images = await mkdtemp(join(tmpdir(), 'ota-rollout-crash-'));
    await releases.publishSampleReleases(['1.0.0', '1.1.0'], images);
    port = await freePort();
    gatewayUrl = `http://127.0.0.1:${port}`;
    await startServe();
  }, 180_000);

  afterAll(async () => {
    serve?.kill('SIGKILL');
    await releases?.close();
    await env?.teardown();
  });

  it('resumes the rollout after a SIGKILL during bake time', async (ctx) => {
    if (skipReason) return ctx.skip();
    const fleet = await enrollFleet(releases, { url: gatewayUrl, sharedToken: ENROLLMENT_TOKEN }, 6);
    const policy = canaryThenFleet('4s', '200ms');
    const id = `rollout-crash-${Date.now()}`;
    const request: RolloutRequest = { rolloutId: id, hardwareId: HARDWARE, channel: 'stable', releaseVersion: '1.1.0', policy, requestedBy: 'test' };
    const handle = await releases.client.workflow.start(rolloutWorkflow, { taskQueue: QUEUE, workflowId: id, args: [request] });
    const commit = () => ({ result: 'commit' as const });

    // Until the canary bakes with its two devices updated.
    let status = await handle.query(rolloutStatusQuery);
    for (let i = 0; i < 100 && !(status.rings[0]!.state === 'baking' && (fleet.versions()['1.1.0'] ?? 0) >= 2); i++) {
      await fleet.tick(commit);
      await new Promise((r) => setTimeout(r, 200));
      status = await handle.query(rolloutStatusQuery);
    }
    expect(status.rings[0]!.state).toBe('baking');

    serve!.kill('SIGKILL');
    await new Promise((r) => serve!.once('exit', r));
    // Devices keep trying while the gateway is gone.
    await expect(fleet.tick(commit)).rejects.toThrow();
    await startServe();

    let done = false;
    const result = handle.result().finally(() => (done = true)) as Promise<RolloutStatus>;
    while (!done) {
      await fleet.tick(commit);
      await new Promise((r) => setTimeout(r, 200));
    }
    const final = await result;
    expect(final.state).toBe('completed');
    expect(fleet.versions()).toEqual({ '1.1.0': 6 });
    expect(ringOpenings(final)).toEqual({ plan: 1, canary: 1, fleet: 1 });
  }, 180_000);
});
