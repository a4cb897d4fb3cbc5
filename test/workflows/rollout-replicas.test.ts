// The production shape in miniature: two `ota gateway` and two `ota worker` processes on one
// PostgreSQL, one Temporal server and one S3 bucket (versitygw). A few hundred simulated devices,
// split between the two gateway URLs, take a three-ring rollout while one gateway and one worker
// are SIGKILLed mid-rollout and started again. Afterwards: every report a device got 200 for is in
// the store, no device is assigned twice or to two rings, the rollout decided what a calm run
// decides, and every device runs the new release.
import { rolloutWorkflow } from '../../workflows/rollout.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { FleetStore } from '../../fleet/fleet-store.js';
import { freePort } from '../../platform/free-port.js';
import { parsePolicy } from '../../rollout/policy.js';
import type { RolloutRequest, RolloutStatus } from '../../rollout/types.js';
import type { ProtocolFleet } from '../../sim/protocol-fleet.js';
import { AcknowledgedReports } from '../support/acknowledged-reports.js';
import { ensureDist } from '../support/dist.js';
import { OtaProcess } from '../support/ota-process.js';
import { postgresBinaries, startThrowawayPostgres, warnIfPostgresMissing, type ThrowawayPostgres } from '../support/postgres.js';
import { HARDWARE, ReleaseHarness } from '../support/release-harness.js';
import { ENROLLMENT_TOKEN, enrollFleet, ringOpenings } from '../support/rollout-fleet.js';
import { startTemporal } from '../support/temporal.js';
import { startVersityGw, type VersityGw } from '../support/versitygw.js';

warnIfPostgresMissing('rollout replicas');

const QUEUE = 'rollout-replicas';
const BUCKET = 'ota-replicas';
const DEVICES_PER_GATEWAY = 150;
const commit = () => ({ result: 'commit' as const });

const policy = parsePolicy({
  target: { hardware: HARDWARE },
  rings: [
    { name: 'canary', size: { count: 10 }, bakeTime: '1s', minReports: 8, thresholds: { failureRate: 0.2, maxFailures: 0 }, onBreach: 'halt' },
    { name: 'half', size: { percent: 50 }, bakeTime: '1s', minReports: 60, thresholds: { failureRate: 0.2, maxFailures: 0 }, onBreach: 'halt' },
    { name: 'fleet', size: { percent: 100 }, bakeTime: '1s', minReports: 60, thresholds: { failureRate: 0.2, maxFailures: 0 }, onBreach: 'halt' },
  ],
  exposureBudget: { percent: 100 },
  maxConcurrentInstalls: 80,
  pollInterval: '500ms',
});

/** What a calm run decides, in order (the `wait` notes between them depend on timing and are left out). */
const CALM_DECISIONS = ['plan', 'open-ring:canary', 'pass:canary', 'open-ring:half', 'pass:half', 'open-ring:fleet', 'pass:fleet', 'finish'];

describe.skipIf(!postgresBinaries)('two gateways and two workers on one PostgreSQL, Temporal and bucket', () => {
  let skipReason: string | undefined;
  let env: TestWorkflowEnvironment | undefined;
  let pg: ThrowawayPostgres | undefined;
  let s3: VersityGw | undefined;
  let releases: ReleaseHarness | undefined;
  let images: string | undefined;
  const gateways: OtaProcess[] = [];
  const workers: OtaProcess[] = [];
  const urls: string[] = [];
  const acknowledged = new AcknowledgedReports();
  // Milliseconds to each phase (set-up from the start, the rest from the test's start), printed at the end.
  const phases: Record<string, number> = {};

  beforeAll(async () => {
    const t0 = Date.now();
    skipReason = await ensureDist();
    if (skipReason) {
      console.error(`\n*** SKIPPING rollout replicas test: ${skipReason} ***\n`);
      return;
    }
    [{ env }, pg, s3] = await Promise.all([startTemporal(), startThrowawayPostgres(), startVersityGw()]);
    const credentials = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey };
    Object.assign(process.env, credentials);
    const admin = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
    await admin.send(new CreateBucketCommand({ Bucket: BUCKET }));
    admin.destroy();
    const shared = { OTA_STORE: `s3://${BUCKET}/fleet/`, OTA_S3_ENDPOINT: s3.endpoint, OTA_S3_REGION: s3.region, OTA_S3_FORCE_PATH_STYLE: 'true', OTA_FLEET_DATABASE_URL: pg.url };
    // No worker in this process: the two `ota worker` processes run the release pipeline too.
    releases = await ReleaseHarness.start(env.address, QUEUE, shared, false);

    // Every process gets the same configuration: only the port differs between the gateways.
    const processEnv = { ...process.env, ...credentials, ...shared, OTA_STATE_DIR: releases.stateDir, OTA_TEMPORAL_ADDRESS: env.address, OTA_TEMPORAL_NAMESPACE: releases.config.temporal.namespace, OTA_TASK_QUEUE: QUEUE, OTA_ENROLLMENT_TOKEN: ENROLLMENT_TOKEN };
    for (const name of ['gateway-a', 'gateway-b']) {
      const port = await freePort();
      urls.push(`http://127.0.0.1:${port}`);
      gateways.push(new OtaProcess(name, ['gateway', '--port', String(port), '--poll-after', '1', '--release-policy', 'rollouts', '--insecure-shared-token'], processEnv, { healthz: `http://127.0.0.1:${port}/healthz` }));
      workers.push(new OtaProcess(name.replace('gateway', 'worker'), ['worker'], processEnv, { stdoutLine: /worker polling/ }));
    }
    // The gateways one after the other (the first creates the shared answer key, the second reads
    // it), meanwhile the workers bundle their workflows.
    const gatewaysInTurn = async () => {
      for (const gateway of gateways) await gateway.start();
    };
    await Promise.all([gatewaysInTurn(), ...workers.map((w) => w.start())]);
    phases.processesUp = Date.now() - t0;
    images = await mkdtemp(join(tmpdir(), 'ota-replicas-'));
    await releases.publishSampleReleases(['1.0.0', '1.1.0'], images);
    phases.published = Date.now() - t0;
  }, 240_000);

  afterAll(async () => {
    if (Object.keys(phases).length) console.log(`rollout replicas, ms: ${JSON.stringify(phases)}; ${acknowledged.reports.length} reports acknowledged`);
    acknowledged.stop();
    await Promise.all([...gateways, ...workers].map((p) => p.kill()));
    await releases?.close();
    await env?.teardown();
    await pg?.stop();
    await s3?.stop();
    if (images) await rm(images, { recursive: true, force: true });
  });

  it('loses no report and assigns no device twice when a gateway and a worker are killed mid-rollout', async (ctx) => {
    if (skipReason) return ctx.skip();
    const t1 = Date.now();
    // Conversations that failed (the devices retry at their next check-in, as real ones do).
    let failedConversations = 0;
    const onDeviceError = () => failedConversations++;
    const fleets: ProtocolFleet[] = await Promise.all(
      urls.map((url, i) => enrollFleet(releases!, { url, sharedToken: ENROLLMENT_TOKEN }, DEVICES_PER_GATEWAY, '1.0.0', undefined, { idPrefix: `gw${i}`, onDeviceError, concurrency: 12 })),
    );
    acknowledged.watch();
    phases.enrolled = Date.now() - t1;
    const id = `rollout-replicas-${Date.now()}`;
    const request: RolloutRequest = { rolloutId: id, hardwareId: HARDWARE, channel: 'stable', releaseVersion: '1.1.0', policy, requestedBy: 'test' };
    const handle = await releases!.client.workflow.start(rolloutWorkflow, { taskQueue: QUEUE, workflowId: id, args: [request] });
    let done = false;
    const result = handle.result().finally(() => (done = true)) as Promise<RolloutStatus>;
    const tick = async () => {
      await Promise.all(fleets.map((f) => f.tick(commit)));
      await new Promise((r) => setTimeout(r, 300));
    };

    // Mid-rollout: the second ring is open and some of its devices are updating.
    const updated = () => fleets.reduce((n, f) => n + (f.versions()['1.1.0'] ?? 0), 0);
    for (let i = 0; i < 300 && !done && updated() < 20; i++) await tick();
    expect(done).toBe(false);
    const beforeKill = updated();
    expect(beforeKill).toBeGreaterThanOrEqual(20);
    expect(beforeKill).toBeLessThan(2 * DEVICES_PER_GATEWAY);

    phases.killed = Date.now() - t1;
    await Promise.all([gateways[0]!.kill(), workers[0]!.kill()]);
    const failedBefore = failedConversations;
    await tick(); // the first gateway's devices find nobody there
    expect(failedConversations - failedBefore).toBeGreaterThanOrEqual(DEVICES_PER_GATEWAY);
    await gateways[0]!.start();
    // The rollout goes on with the other worker while this one bundles its workflows again.
    const workerBack = workers[0]!.start();
    for (let i = 0; i < 400 && !done; i++) await tick();
    phases.rolloutDone = Date.now() - t1;
    await workerBack;
    phases.workerBack = Date.now() - t1;
    expect(done).toBe(true);
    const final = await result;
    // One more round: devices interrupted between their reports check in on what they run.
    await tick();

    // The rollout's decisions are a calm run's: each ring opened once and passed, then finished.
    expect(final.state).toBe('completed');
    expect(final.rings.map((r) => [r.name, r.state])).toEqual([['canary', 'passed'], ['half', 'passed'], ['fleet', 'passed']]);
    expect(ringOpenings(final)).toEqual({ plan: 1, canary: 1, half: 1, fleet: 1 });
    expect(final.decisions.filter((d) => d.action !== 'wait').map((d) => (d.ring ? `${d.action}:${d.ring}` : d.action))).toEqual(CALM_DECISIONS);

    const store = await FleetStore.open(pg!.url);
    try {
      // No report lost: every one a gateway answered 200 for is stored (device id and counter are unique).
      const stored = await store.db.query<{ device_id: string; counter: number }>('SELECT device_id, counter FROM reports');
      const inStore = new Set(stored.rows.map((r) => `${r.device_id}#${Number(r.counter)}`));
      const missing = acknowledged.reports.filter((r) => !inStore.has(`${r.deviceId}#${r.counter}`));
      expect(acknowledged.reports.length).toBeGreaterThan(4 * 2 * DEVICES_PER_GATEWAY * 0.9);
      expect(missing).toEqual([]);

      // No device assigned twice or to two rings, and every enrolled device assigned once.
      const assigned = await store.db.query<{ device_id: string; n: number; rings: number }>(
        'SELECT device_id, count(*) AS n, count(DISTINCT ring) AS rings FROM rollout_assignments GROUP BY device_id',
      );
      expect(assigned.rows).toHaveLength(2 * DEVICES_PER_GATEWAY);
      expect(assigned.rows.filter((r) => Number(r.n) !== 1 || Number(r.rings) !== 1)).toEqual([]);
      const perRing = await store.db.query<{ ring: string; n: number }>('SELECT ring, count(*) AS n FROM rollout_assignments WHERE rollout_id = $1 GROUP BY ring', [id]);
      const ringSizes = Object.fromEntries(perRing.rows.map((r) => [r.ring, Number(r.n)]));
      expect(ringSizes).toEqual(Object.fromEntries(final.rings.map((r) => [r.name, r.assigned])));
      expect(ringSizes).toEqual({ canary: 10, half: DEVICES_PER_GATEWAY - 10, fleet: DEVICES_PER_GATEWAY });

      // Every device on the right release, as it says and as the store says.
      for (const fleet of fleets) expect(fleet.versions()).toEqual({ '1.1.0': DEVICES_PER_GATEWAY });
      const running = await store.db.query<{ current_version: string; n: number }>('SELECT current_version, count(*) AS n FROM device_state GROUP BY current_version');
      expect(running.rows.map((r) => [r.current_version, Number(r.n)])).toEqual([['1.1.0', 2 * DEVICES_PER_GATEWAY]]);
    } finally {
      await store.close();
    }
  }, 300_000);
});
