// A simulated fleet in child processes (sim/fleet-shards.ts) against the real gateway, worker and
// Temporal: devices are made and keyed in the children, preauthorized from the parent, enrolled, and
// roll through a crash-looping release whose failures reach the parent as they happen. The children
// run from the compiled dist/ (as the rollout bench does), so the test compiles it when it is stale.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { buildSampleImage } from '../../demo/sample-image.js';
import { parsePolicy } from '../../rollout/policy.js';
import { parseManifest } from '../../schemas/manifest.js';
import { ShardedFleet, type ShardedFleetOptions } from '../../sim/fleet-shards.js';
import { rolloutStatusQuery, rolloutWorkflow } from '../../workflows/rollout.js';
import { ensureDist } from '../support/dist.js';
import { HARDWARE, ReleaseHarness } from '../support/release-harness.js';
import { InProcessServices, preauthorizeIn } from '../support/rollout-fleet.js';
import { startTemporal } from '../support/temporal.js';

const QUEUE = 'fleet-shards';

describe('a sharded simulated fleet', () => {
  let env: TestWorkflowEnvironment;
  let releases: ReleaseHarness;
  let services: InProcessServices;
  let base: Omit<ShardedFleetOptions, 'count' | 'preauthorize'>;
  let distMissing: string | undefined;

  beforeAll(async () => {
    distMissing = await ensureDist();
    env = (await startTemporal()).env;
    releases = await ReleaseHarness.start(env.address, 'fleet-shards-releases');
    const images = await mkdtemp(join(tmpdir(), 'ota-fleet-shards-'));
    for (const [version, crashLoop] of [['1.0.0', false], ['1.1.0', true]] as const) {
      const image = join(images, `fw-${version}.tar`);
      buildSampleImage({ version, out: image, crashLoop });
      await releases.publish({ image, version });
    }
    services = await InProcessServices.start(releases, QUEUE);
    const factory = parseManifest(await releases.manifestBytes('1.0.0'));
    base = {
      hardwareId: HARDWARE, channel: 'stable', gatewayUrl: services.gateway.url, trustRoot: await releases.trustRoot(),
      factory: { version: '1.0.0', imageSha256: factory.image.sha256, securityVersion: factory.securityVersion }, concurrency: 4,
    };
  }, 180_000);

  afterAll(async () => {
    await services?.close();
    await releases?.close();
    await env?.teardown();
  });

  it('enrolls devices made in two processes, reports their failures as they happen, and rolls the crash-looping release back', async (ctx) => {
    if (distMissing) return ctx.skip();
    const failures: number[] = [];
    const fleet = await ShardedFleet.enroll({
      ...base, count: 7, processes: 2, idPrefix: 'shard',
      preauthorize: (list) => preauthorizeIn(services.fleetStore, list),
      onFailure: (at) => failures.push(at),
    });
    try {
      expect(fleet.processIds.every((pid) => pid > 0 && pid !== process.pid)).toBe(true);
      // Every device was admitted under the id its process made: 4 + 3, numbered across processes.
      const enrolled = await Promise.all(Array.from({ length: 7 }, (_, i) => services.fleetStore.getDevice(`shard-${String(i).padStart(5, '0')}`)));
      expect(enrolled.every((d) => d?.hardwareId === HARDWARE)).toBe(true);
      // The first round fetches a nonce for every check-in (none held yet); the second signs over the held nextNonce.
      expect(await fleet.tick()).toEqual({ actions: { none: 7 }, versions: { '1.0.0': 7 }, deviceErrors: 0, freshNonces: 7 });
      expect(await fleet.tick()).toEqual({ actions: { none: 7 }, versions: { '1.0.0': 7 }, deviceErrors: 0, freshNonces: 0 });

      const id = `shards-1.1.0-${Date.now()}`;
      const policy = parsePolicy({
        target: { hardware: HARDWARE },
        rings: [
          { name: 'canary', size: { count: 2 }, bakeTime: '1s', minReports: 2, thresholds: { failureRate: 0.2, maxFailures: 0, perKind: { boot: { count: 0 } } }, onBreach: 'rollback' },
          { name: 'fleet', size: { percent: 100 }, bakeTime: '1s', minReports: 5, thresholds: { failureRate: 0.2, maxFailures: 1 }, onBreach: 'halt' },
        ],
        exposureBudget: { percent: 100 }, maxConcurrentInstalls: 10, pollInterval: '300ms',
      });
      const handle = await releases.client.workflow.start(rolloutWorkflow, {
        taskQueue: QUEUE, workflowId: id, args: [{ rolloutId: id, hardwareId: HARDWARE, channel: 'stable', releaseVersion: '1.1.0', policy, requestedBy: 'test' }],
      });
      const behaviour = { failing: { versions: ['1.1.0'], kind: 'boot' as const, fallsBack: true } };
      let status = await handle.query(rolloutStatusQuery);
      const actions: Record<string, number> = {};
      for (let i = 0; i < 60 && status.state !== 'rolled-back'; i++) {
        const summary = await fleet.tick(behaviour);
        for (const [k, v] of Object.entries(summary.actions)) actions[k] = (actions[k] ?? 0) + v;
        await new Promise((r) => setTimeout(r, 200));
        status = await handle.query(rolloutStatusQuery);
      }
      expect(status.state).toBe('rolled-back');
      expect(status.exposure.devices).toBe(2);
      // The canary's two installs failed, each reported to the parent when it happened.
      expect(actions.failed).toBe(2);
      expect(failures).toHaveLength(2);
      expect(failures.every((at) => at > Date.now() - 120_000 && at <= Date.now())).toBe(true);
      const after = await fleet.tick(behaviour);
      expect(after.versions).toEqual({ '1.0.0': 7 });
      expect(fleet.peakRssBytes().every((b) => b > 10 * 2 ** 20)).toBe(true);
    } finally {
      const peaks = await fleet.close();
      expect(peaks).toHaveLength(2);
    }
  }, 180_000);

  it('a device process that dies fails the round with its cause, not a hang', async (ctx) => {
    if (distMissing) return ctx.skip();
    const fleet = await ShardedFleet.enroll({ ...base, count: 2, processes: 1, idPrefix: 'dies', preauthorize: (list) => preauthorizeIn(services.fleetStore, list) });
    const round = fleet.tick();
    fleet.kill();
    await expect(round).rejects.toThrow(/device shard exited \(SIGKILL\)/);
  }, 60_000);

  it('a device that cannot enroll fails enrollment with the gateway\'s answer', async (ctx) => {
    if (distMissing) return ctx.skip();
    // Not preauthorized: the gateway refuses the enrollment.
    await expect(ShardedFleet.enroll({ ...base, count: 2, processes: 2, idPrefix: 'stranger', preauthorize: async () => undefined })).rejects.toThrow(/device shard: .*/);
  }, 60_000);
});
