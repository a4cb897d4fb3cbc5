// Crash recovery, for real: the worker runs as a child process (`node bin/ota.js worker`), is
// SIGKILLed while a release step is running on it, and a fresh worker process finishes the
// workflow. Each release must end with exactly one manifest, one index entry, and verify.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle } from '@temporalio/client';
import { buildSampleImage } from '../../demo/sample-image.js';
import { manifestKey } from '../../release/layout.js';
import { startRelease } from '../../temporal/release-client.js';
import type { PublishedRelease } from '../../release/types.js';
import { parseManifest } from '../../schemas/manifest.js';
import { releaseProgressQuery } from '../../workflows/release.js';
import { ensureDist, OTA_BIN } from '../support/dist.js';
import { failedChecks, HARDWARE, ReleaseHarness } from '../support/release-harness.js';
import { startTemporal } from '../support/temporal.js';

const TASK_QUEUE = 'release-crash';
/** Short enough that the retry after a kill comes within seconds; production keeps 60 s / 2 min. */
const TIMEOUTS = { heartbeatSeconds: 2, quickStepSeconds: 10 };

interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
}

describe('release workflow survives a worker killed mid-step', () => {
  let env: TestWorkflowEnvironment;
  let h: ReleaseHarness;
  let dir: string;
  let skipReason: string | undefined;
  const workers: WorkerProcess[] = [];

  async function startWorker(): Promise<WorkerProcess> {
    const child = spawn(process.execPath, [OTA_BIN, 'worker'], {
      cwd: h.stateDir,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? h.stateDir,
        OTA_STATE_DIR: h.stateDir,
        OTA_TEMPORAL_ADDRESS: h.config.temporal.address,
        OTA_TASK_QUEUE: TASK_QUEUE,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const worker = { child, output: () => output };
    workers.push(worker);
    const deadline = Date.now() + 60_000;
    while (!output.includes('worker polling')) {
      if (child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode}:\n${output}`);
      if (Date.now() > deadline) throw new Error(`worker did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return worker;
  }

  async function kill(worker: WorkerProcess): Promise<void> {
    if (worker.child.exitCode !== null || worker.child.signalCode !== null) return;
    const exited = new Promise((r) => worker.child.once('exit', r));
    worker.child.kill('SIGKILL');
    await exited;
  }

  /** Waits until `stepName` is running and its activity has been picked up by a worker. */
  async function waitForRunningStep(handle: WorkflowHandle, stepName: string): Promise<{ activity: string; identity: string }> {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const steps = await handle.query(releaseProgressQuery).catch(() => []);
      const step = steps.find((s) => s.name === stepName);
      if (step && step.state !== 'pending' && step.state !== 'running') throw new Error(`step ${stepName} already ${step.state}; the kill came too late`);
      if (step?.state === 'running') {
        const pending = (await handle.describe()).raw.pendingActivities ?? [];
        // PENDING_ACTIVITY_STATE_STARTED = 2
        const started = pending.find((a) => a.state === 2);
        if (started) return { activity: started.activityType?.name ?? '?', identity: started.lastWorkerIdentity ?? '' };
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`step ${stepName} never started`);
  }

  /** Processes that inherited our OTA_STATE_DIR: the worker and anything it spawned. */
  async function processesOf(stateDir: string): Promise<string[]> {
    const found: string[] = [];
    for (const pid of await readdir('/proc').catch(() => [] as string[])) {
      if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
      try {
        const environ = await readFile(`/proc/${pid}/environ`, 'utf8');
        if (environ.split('\0').includes(`OTA_STATE_DIR=${stateDir}`)) found.push(`${pid} ${(await readFile(`/proc/${pid}/cmdline`, 'utf8')).replaceAll('\0', ' ')}`);
      } catch {
        // gone, or not ours to read
      }
    }
    return found;
  }

  async function waitForNoProcessesOf(stateDir: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    let left = await processesOf(stateDir);
    while (left.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      left = await processesOf(stateDir);
    }
    expect(left).toEqual([]);
  }

  /** Attempts of each activity type that finally completed, from the workflow history. */
  async function completedAttempts(handle: WorkflowHandle): Promise<Record<string, number>> {
    const history = await handle.fetchHistory();
    const scheduled = new Map<string, string>();
    const started = new Map<string, number>();
    const result: Record<string, number> = {};
    for (const event of history.events ?? []) {
      const id = String(event.eventId);
      if (event.activityTaskScheduledEventAttributes) scheduled.set(id, event.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
      if (event.activityTaskStartedEventAttributes) started.set(String(event.activityTaskStartedEventAttributes.scheduledEventId), event.activityTaskStartedEventAttributes.attempt ?? 1);
      if (event.activityTaskCompletedEventAttributes) {
        const sid = String(event.activityTaskCompletedEventAttributes.scheduledEventId);
        const name = scheduled.get(sid)!;
        result[name] = Math.max(result[name] ?? 0, started.get(sid) ?? 0);
      }
    }
    return result;
  }

  async function publishWithKill(version: string, image: string, securityVersion: number, killAt: string): Promise<{ result: PublishedRelease; attempts: Record<string, number>; killed: string }> {
    const first = await startWorker();
    const request = await h.request({ image, version, securityVersion, timeouts: TIMEOUTS });
    const handle = await startRelease(h.client, TASK_QUEUE, request);
    const running = await waitForRunningStep(handle, killAt);
    // The step runs on the child we are about to kill (identity is pid@host).
    expect(running.identity.startsWith(`${first.child.pid}@`)).toBe(true);
    await kill(first);
    // Nothing the killed worker started (the delta child process included) outlives it.
    await waitForNoProcessesOf(h.stateDir);
    const t0 = Date.now();
    const second = await startWorker();
    const result = (await handle.result()) as PublishedRelease;
    console.log(`${version}: killed the worker during ${running.activity}; a new worker finished the release ${Date.now() - t0} ms later`);
    await kill(second);
    return { result, attempts: await completedAttempts(handle), killed: running.activity };
  }

  async function assertExactlyOneRelease(version: string, result: PublishedRelease): Promise<void> {
    expect(result).toMatchObject({ hardwareId: HARDWARE, version, outcome: 'created' });
    const manifests = [];
    for await (const o of h.store.list(`releases/${HARDWARE}/`)) if (o.key.endsWith('/manifest.json')) manifests.push(o.key);
    expect(manifests).toContain(manifestKey(HARDWARE, version));
    expect(manifests.filter((k) => k === manifestKey(HARDWARE, version))).toHaveLength(1);
    const index = await h.index();
    expect(index?.releases.filter((r) => r.version === version)).toHaveLength(1);
    expect(index?.releases.find((r) => r.version === version)?.manifest.sha256).toBe(result.manifestSha256);
    const report = await h.verify(version);
    expect(failedChecks(report)).toEqual([]);
  }

  beforeAll(async () => {
    skipReason = await ensureDist();
    if (skipReason) {
      console.error(`\n*** SKIPPING crash-recovery tests: ${skipReason} ***\n`);
      return;
    }
    dir = await mkdtemp(join(tmpdir(), 'ota-crash-images-'));
    buildSampleImage({ version: '1.0.0', out: join(dir, 'a.tar') });
    buildSampleImage({ version: '1.0.1', out: join(dir, 'b.tar') });
    let config;
    ({ env, config } = await startTemporal());
    h = await ReleaseHarness.start(config(TASK_QUEUE).address, TASK_QUEUE, {}, false);
  });
  afterAll(async () => {
    for (const w of workers) await kill(w);
    await h?.close();
    await env?.teardown();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('killed during the SBOM step: a new worker resumes and publishes exactly one release', async (ctx) => {
    if (skipReason) return ctx.skip();
    const { result, attempts, killed } = await publishWithKill('1.0.0', join(dir, 'a.tar'), 1, 'sbom');
    expect(killed).toBe('generateSbom');
    expect(attempts.generateSbom).toBeGreaterThanOrEqual(2);
    await assertExactlyOneRelease('1.0.0', result);
  });

  it('killed while generating the delta: the retry finishes with one release and a delta from 1.0.0', async (ctx) => {
    if (skipReason) return ctx.skip();
    const { result, attempts, killed } = await publishWithKill('1.0.1', join(dir, 'b.tar'), 1, 'deltas');
    expect(killed).toBe('generateDelta');
    expect(attempts.generateDelta).toBeGreaterThanOrEqual(2);
    expect(result.deltas).toBe(2); // bsdiff and ops
    await assertExactlyOneRelease('1.0.1', result);
    const m = parseManifest(await h.manifestBytes('1.0.1'));
    expect(m.deltas[0]).toMatchObject({ fromVersion: '1.0.0', toSha256: m.image.sha256 });
    // The killed attempt left no half-written files behind in the store.
    const blobs = await readdir(join((h.config.store as { dir: string }).dir, 'blobs', 'sha256'));
    expect(blobs.filter((name) => name.startsWith('.'))).toEqual([]);
  });
});
