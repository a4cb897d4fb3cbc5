// A long rollout continues-as-new before its history grows large, and carries on exactly where
// it was: same ring, no repeated ring opening, decisions kept. The dev server is told to suggest
// continue-as-new after 60 events (production default: 4,096) so the test reaches it in seconds.
import { rolloutWorkflow } from '../../workflows/rollout.js';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { RolloutRequest, RolloutStatus } from '../../rollout/types.js';
import type { ProtocolFleet } from '../../sim/protocol-fleet.js';
import { HARDWARE, ReleaseHarness } from '../support/release-harness.js';
import { canaryThenFleet, enrollFleet, ringOpenings, InProcessServices } from '../support/rollout-fleet.js';
import { startTemporal } from '../support/temporal.js';

const QUEUE = 'rollout-can';

describe('a long rollout', () => {
  let env: TestWorkflowEnvironment;
  let releases: ReleaseHarness;
  let services: InProcessServices;
  let fleet: ProtocolFleet;

  beforeAll(async () => {
    ({ env } = await startTemporal(['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=60']));
    releases = await ReleaseHarness.start(env.address, 'rollout-can-releases');
    const images = await mkdtemp(join(tmpdir(), 'ota-can-images-'));
    await releases.publishSampleReleases(['1.0.0', '1.1.0'], images);
    services = await InProcessServices.start(releases, QUEUE);
    fleet = await enrollFleet(releases, services.admission, 6);
  }, 180_000);

  afterAll(async () => {
    await services?.close();
    await releases?.close();
    await env?.teardown();
  });

  it('continues-as-new mid-bake and still opens each ring exactly once', async () => {
    const policy = canaryThenFleet('6s', '100ms');
    const id = `rollout-can-${Date.now()}`;
    const request: RolloutRequest = { rolloutId: id, hardwareId: HARDWARE, channel: 'stable', releaseVersion: '1.1.0', policy, requestedBy: 'test' };
    const handle = await releases.client.workflow.start(rolloutWorkflow, { taskQueue: QUEUE, workflowId: id, args: [request] });
    const firstRunId = handle.firstExecutionRunId;
    let done = false;
    const result = handle.result().finally(() => (done = true)) as Promise<RolloutStatus>;
    while (!done) {
      await fleet.tick(() => ({ result: 'commit' }));
      await new Promise((r) => setTimeout(r, 200));
    }
    const final = await result;
    expect(final.state).toBe('completed');
    expect(fleet.versions()).toEqual({ '1.1.0': 6 });

    const latest = await releases.client.workflow.getHandle(id).describe();
    expect(latest.runId).not.toBe(firstRunId);
    // The first run ended by continuing as new, with a history far below Temporal's limits.
    const first = await releases.client.workflow.getHandle(id, firstRunId).describe();
    expect(first.status.name).toBe('CONTINUED_AS_NEW');
    expect(Number(first.raw.workflowExecutionInfo?.historyLength)).toBeLessThan(200);

    expect(ringOpenings(final)).toEqual({ plan: 1, canary: 1, fleet: 1 });
  }, 120_000);
});
