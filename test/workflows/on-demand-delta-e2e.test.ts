// Deltas on demand, end to end (issue 17's Done-when): with K=1 the pipeline publishes 1.0.0 to 1.3.0,
// so 1.3.0's manifest has a delta from 1.2.0 only. Two devices on 1.0.0 (two releases further behind
// than K) check in at once for 1.3.0 and are told to come back (retry-later policy); the gateway wrote
// one request row; the delta-dispatch Schedule and a second dispatcher started by hand race for it and
// one deltaWorkflow runs. The delta is a signed TUF target; the device walks the metadata, downloads the
// delta's bytes (not the full image's), applies it, checks the image against the signed manifest,
// reboots, commits and reports. Real Temporal dev server, real worker, real PGlite fleet store, real
// gateway over HTTP, real release pipeline.
import { statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import type { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { loadConfig } from '../../config/load-config.js';
import { buildSampleImage } from '../../demo/sample-image.js';
import { checkInOnce, type AgentOptions } from '../../device-client/agent/checkin.js';
import { enrollDevice } from '../../device-client/agent/enroll.js';
import { installUpdate } from '../../device-client/agent/install.js';
import { OfflineBundleSource } from '../../device-client/agent/offline-bundle.js';
import { addDeltaTarget } from '../../activities/delta/delta-targets.js';
import { collectOnDemandDeltas } from '../../activities/delta/gc.js';
import { onDemandTargetEntry } from '../../release/on-demand-delta.js';
import { FleetStore } from '../../fleet/fleet-store.js';
import { startGateway, type RunningGateway } from '../../gateway/server.js';
import { manifestKey } from '../../release/layout.js';
import { deltaWorkflowId, onDemandTargetPath } from '../../release/on-demand-delta.js';
import type { PublishedRelease } from '../../release/types.js';
import type { Config } from '../../schemas/config.js';
import { parseManifest } from '../../schemas/manifest.js';
import { builderSigningModeFromConfig } from '../../signing/from-config.js';
import { loadOrCreateSigningKey } from '../../signing/keys.js';
import { pinPublicKeyInFile } from '../../signing/trust-root.js';
import { LocalArtifactStore } from '../../stores/local-store.js';
import { connectClient } from '../../temporal/client.js';
import { ensureDeltaDispatchSchedule } from '../../temporal/delta-schedule.js';
import { buildReleaseRequest, startRelease } from '../../temporal/release-client.js';
import { createWorker } from '../../temporal/worker.js';
import { signingKeyFile, trustKeyPaths } from '../../trust/key-files.js';
import { readRepository, writeRepository } from '../../trust/metadata-store.js';
import { createRepository } from '../../trust/repository.js';
import { tufSigningKey } from '../../trust/tuf-keys.js';
import { DEVICE_HARDWARE, sha256File, type PublishedFixture, type SampleRelease } from '../support/device-releases.js';
import { createSimDevice, type SimDevice } from '../support/device-sim.js';
import { copyBundle, newTufKey, pinRoot } from '../support/fleet-tuf.js';
import { startTemporal } from '../support/temporal.js';

const VERSIONS = ['1.0.0', '1.1.0', '1.2.0', '1.3.0'];
const RETRY_AFTER = 5;

let root: string;
let env: TestWorkflowEnvironment;
let config: Config;
let store: LocalArtifactStore;
let fleet: FleetStore;
let worker: Worker;
let connection: NativeConnection;
let running: Promise<void>;
let client: Client;
let closeClient: () => Promise<void>;
let gateway: RunningGateway;
let fixture: PublishedFixture;
const releases: Record<string, SampleRelease> = {};

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ota-on-demand-'));
  let temporalFor;
  ({ env, config: temporalFor } = await startTemporal());
  config = loadConfig({ env: { OTA_STATE_DIR: join(root, 'ota') }, cwd: root });
  config.temporal = temporalFor('on-demand-deltas');
  if (config.store.kind !== 'local') throw new Error('expected the local artifact store');
  store = new LocalArtifactStore(config.store.dir);

  // The fleet's TUF repository, signed with the key files the worker signs publishes (and deltas) with.
  const paths = trustKeyPaths(config.trust, config.signing.keyPath);
  const releaseKey = await loadOrCreateSigningKey(config.signing.keyPath);
  const signing = { targetsKeys: [await signingKeyFile(paths.targets)], onlineKey: await signingKeyFile(paths.online), now: new Date() };
  await writeRepository(store, createRepository({ rootKeys: [newTufKey()], threshold: 1, signers: [tufSigningKey(releaseKey.privateKey)], ...signing }));
  // Devices read trusted_root.json for the Sigstore part; with TUF the signer comes from targets.
  await pinPublicKeyInFile(config.trust.trustedRootPath, releaseKey.publicKey, { hint: releaseKey.hint });

  fleet = await FleetStore.open(`pglite:${join(root, 'fleet')}`);
  ({ worker, connection } = await createWorker(config.temporal, createActivities(config, { fleet: async () => fleet })));
  running = worker.run();
  ({ client, close: closeClient } = await connectClient(config.temporal));

  const builder = await builderSigningModeFromConfig(config.builder, config.signing);
  for (const [i, version] of VERSIONS.entries()) {
    const imagePath = join(root, `fw-${version}.tar`);
    buildSampleImage({ version, out: imagePath });
    const request = await buildReleaseRequest(
      store,
      { image: imagePath, components: [] },
      {
        hardwareId: DEVICE_HARDWARE,
        version,
        channel: 'stable',
        securityVersion: 1,
        signing: 'key',
        provenance: { buildType: 'https://edge-ota.dev/test-build', builderId: 'https://edge-ota.dev/builders/test', externalParameters: { version } },
        deltaCount: 1, // K = 1: only the release just before gets a delta at publish
        deltaMaxRatio: 0.9,
        validityDays: 30,
      },
      undefined,
      builder,
    );
    (await (await startRelease(client, config.temporal.taskQueue, request)).result()) as PublishedRelease;
    const manifest = parseManifest(await store.getBytes(manifestKey(DEVICE_HARDWARE, version)));
    releases[version] = { version, securityVersion: 1, imagePath, sha256: manifest.image.sha256, length: manifest.image.length, manifest };
    expect(manifest.deltas.map((d) => d.fromVersion)).toEqual(i === 0 ? [] : [VERSIONS[i - 1], VERSIONS[i - 1]]);
  }
  fixture = { storeDir: config.store.dir, trustedRootPath: config.trust.trustedRootPath, signingKeyPath: config.signing.keyPath, releases };

  gateway = await startGateway({
    host: '127.0.0.1',
    port: 0,
    version: 'test',
    fleet,
    store,
    pollAfterSeconds: 60,
    onDemandDeltas: { enabled: true, whileGenerating: 'retry-later', retryAfterSeconds: RETRY_AFTER },
    logError: (err) => console.error(err),
  });
}, 600_000);

afterAll(async () => {
  await client?.schedule.getHandle('delta-dispatch').delete().catch(() => undefined);
  if (gateway) {
    gateway.server.closeAllConnections();
    await gateway.close();
  }
  await closeClient?.();
  worker?.shutdown();
  await running?.catch(() => undefined);
  await connection?.close();
  await fleet?.close();
  await store?.close();
  await env?.teardown();
  if (root) await rm(root, { recursive: true, force: true });
}, 120_000);

let seq = 0;
async function device(): Promise<SimDevice> {
  const id = ++seq;
  const sim = await createSimDevice(join(root, `device-${id}`), fixture, {
    factory: releases['1.0.0']!,
    config: { deviceId: `on-demand-${id}`, gatewayUrl: gateway.url, download: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 50, stallTimeoutMs: 5000 } },
  });
  await pinRoot(sim, (await readRepository(store)).repo);
  const token = (await fleet.createEnrollmentToken({ deviceId: sim.config.deviceId, ttlSeconds: 3600, channel: 'stable', labels: {} })).token;
  await enrollDevice(sim.config, { token });
  return sim;
}

const FAST: AgentOptions = { random: () => 0.5, metrics: async () => ({ bootCount: 1, metrics: { crashCount: 0, uptimeSeconds: 60, freeMemoryBytes: 64 << 20 }, custom: {} }) };

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 180_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function deltaRuns(): Promise<string[]> {
  const ids: string[] = [];
  for await (const execution of client.workflow.list({ query: `WorkflowType = 'deltaWorkflow'` })) ids.push(`${execution.workflowId}/${execution.runId}`);
  return ids;
}

describe('deltas on demand (K = 1, a device three releases behind)', () => {
  it('retry-later while one workflow generates it for two devices, then the device installs the signed on-demand delta and commits', async () => {
    const [a, b] = [await device(), await device()];
    const from = releases['1.0.0']!;
    const to = releases['1.3.0']!;

    // Both ask at once: told to come back soon, nothing downloaded, one request row for the pair.
    const first = await Promise.all([checkInOnce(await a.open(), FAST), checkInOnce(await b.open(), FAST)]);
    for (const round of first) {
      expect(round.outcome).toBe('nothing');
      expect(round.response).toMatchObject({ action: 'none', reason: expect.stringMatching(/delta from 1\.0\.0 to 1\.3\.0 is being generated/), pollAfterSeconds: RETRY_AFTER });
    }
    const rows = await fleet.listDeltaRequests();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ hardwareId: DEVICE_HARDWARE, fromVersion: '1.0.0', toVersion: '1.3.0', fromSha256: from.sha256, toSha256: to.sha256, format: 'ops', state: 'pending' });
    const workflowId = deltaWorkflowId(from.sha256, to.sha256);
    expect(rows[0]!.workflowId).toBe(workflowId);
    expect(workflowId).toBe(`delta-${from.sha256.slice(0, 12)}-${to.sha256.slice(0, 12)}`);

    // The schedule (every second) and a dispatcher started by hand race for the request.
    const started = Date.now();
    await ensureDeltaDispatchSchedule(client, config.temporal.taskQueue, 1);
    const byHand = client.workflow.execute('deltaDispatchWorkflow', { taskQueue: config.temporal.taskQueue, workflowId: 'dispatch-by-hand', args: [{ limit: 10, staleAfterSeconds: 600 }] });
    const ready = await until('the delta to be ready', async () => {
      const row = await fleet.getDeltaRequest({ hardwareId: DEVICE_HARDWARE, toVersion: '1.3.0', fromSha256: from.sha256, format: 'ops' });
      if (row?.state === 'failed' || row?.state === 'skipped') throw new Error(`delta ${row.state}: ${row.detail}`);
      return row?.state === 'ready' ? row : undefined;
    });
    const waitedMs = Date.now() - started;
    await byHand;
    expect(ready.targetPath).toBe(onDemandTargetPath(DEVICE_HARDWARE, '1.3.0', from.sha256, 'ops'));
    console.log(`on-demand delta 1.0.0 -> 1.3.0: ${ready.length} bytes (full image ${to.manifest.image.compression === 'none' ? to.length : to.manifest.image.compressedLength} bytes compressed, ${to.length} raw); ${ready.detail}; request to ready ${waitedMs} ms`);

    // One run for the pair, under the derived id.
    const runs = await until('the run to be visible', async () => {
      const ids = await deltaRuns();
      return ids.length > 0 ? ids : undefined;
    });
    await new Promise((r) => setTimeout(r, 2_000)); // later schedule runs find nothing to claim
    expect(await deltaRuns()).toEqual(runs);
    expect(runs).toHaveLength(1);
    expect(runs[0]!.startsWith(`${workflowId}/`)).toBe(true);

    // The delta is a signed target with hash and length; the blob is content-addressed.
    const { repo } = await readRepository(store);
    const target = repo.targets.signed.targets[ready.targetPath!]!;
    expect(target.length).toBe(ready.length);
    expect(target.hashes.sha256).toBe(ready.sha256);
    expect(ready.location).toBe(`blobs/sha256/${ready.sha256}`);

    // Device A checks in again: the delta is offered, verified through TUF, applied, checked, installed.
    const downloads: Array<{ location: string; bytes: number }> = [];
    const second = await checkInOnce(await a.open(), { ...FAST, onDownload: (location, result) => downloads.push({ location, bytes: statSync(result.path).size }) });
    expect(second.response).toMatchObject({ action: 'update', artifact: { kind: 'delta', format: 'ops', fromVersion: '1.0.0', sha256: ready.sha256, length: ready.length } });
    expect(second).toMatchObject({ outcome: 'installed', install: { outcome: 'installed', version: '1.3.0', slot: 'B', artifact: 'delta', deltaFormat: 'ops' } });
    expect(downloads).toEqual([{ location: ready.location, bytes: ready.length }]);
    const full = to.manifest.image.compression === 'none' ? to.length : to.manifest.image.compressedLength;
    expect(ready.length!).toBeLessThan(full);
    expect(await sha256File(a.config.slots.B, to.length)).toBe(to.sha256);
    expect((await fleet.getDeltaRequest({ hardwareId: DEVICE_HARDWARE, toVersion: '1.3.0', fromSha256: from.sha256, format: 'ops' }))?.lastUsedAt).toBeInstanceOf(Date);

    await a.reboot();
    const third = await checkInOnce(await a.open(), FAST);
    expect(third.bootCheck).toMatchObject({ outcome: 'committed', slot: 'B', version: '1.3.0' });
    const reports = (await fleet.reportsOf(a.config.deviceId)).reverse();
    expect(reports.map((r) => [r.state, r.releaseVersion])).toEqual([
      ['downloading', '1.3.0'],
      ['installed', '1.3.0'],
      ['booted', '1.3.0'],
      ['committed', '1.3.0'],
    ]);

    // Device B gets the same delta, no second run.
    const other = await checkInOnce(await b.open(), FAST);
    expect(other).toMatchObject({ outcome: 'installed', install: { artifact: 'delta', deltaFormat: 'ops', version: '1.3.0' } });
    expect(await deltaRuns()).toEqual(runs);
  }, 600_000);

  it('a stolen targets key cannot install other software: an on-demand target that rebuilds another image is refused after applying, nothing changed', async () => {
    const ready = (await fleet.listDeltaRequests({ state: 'ready' }))[0]!;
    const from = releases['1.0.0']!;
    const victim = releases['1.2.0']!;
    // The attacker lists the real 1.0.0 -> 1.3.0 delta bytes as an on-demand delta to 1.2.0, signed by targets.
    const bundle = await copyBundle(fixture.storeDir, join(root, 'forged-bundle'));
    const forged = new LocalArtifactStore(bundle);
    await addDeltaTarget(config, forged, onDemandTargetPath(DEVICE_HARDWARE, '1.2.0', from.sha256, 'ops'), onDemandTargetEntry({ format: 'ops', fromVersion: '1.0.0', fromSha256: from.sha256, toSha256: victim.sha256, location: ready.location!, sha256: ready.sha256!, length: ready.length! }));
    await forged.close();
    const sim = await device();
    const dev = await sim.open();
    const before = { a: await sha256File(sim.config.slots.A), b: await sha256File(sim.config.slots.B), boot: await readFile(sim.bootStatePath, 'utf8'), agent: await dev.agentState.read() };
    const source = await OfflineBundleSource.open(bundle, dev.scratchDir);
    try {
      await expect(installUpdate(dev, { source, sourceRef: bundle, version: '1.2.0' })).rejects.toMatchObject({ code: 'ARTIFACT_MISMATCH', message: expect.stringMatching(/ops delta rebuilds image .* the manifest says/) });
    } finally {
      await source.close();
    }
    const after = await dev.agentState.read();
    expect({ a: await sha256File(sim.config.slots.A), b: await sha256File(sim.config.slots.B), boot: await readFile(sim.bootStatePath, 'utf8') }).toEqual({ a: before.a, b: before.b, boot: before.boot });
    expect({ slots: after.slots, securityVersion: after.securityVersion, pendingBoot: after.pendingBoot }).toEqual({ slots: before.agent.slots, securityVersion: before.agent.securityVersion, pendingBoot: before.agent.pendingBoot });
  }, 300_000);

  it('garbage collection removes an unused on-demand delta (target, blob, row), never bytes a manifest lists; the pair is made again on the next request', async () => {
    const ready = (await fleet.listDeltaRequests({ state: 'ready' }))[0]!;
    const listed = releases['1.3.0']!.manifest.deltas[0]!;
    // A ready row whose bytes a manifest lists (the publish-time delta from 1.2.0): never collected.
    const guard = { hardwareId: DEVICE_HARDWARE, toVersion: '1.3.0', fromSha256: 'e'.repeat(64), format: 'ops' };
    await fleet.requestDelta({ ...guard, channel: 'stable', fromVersion: '1.2.0', toSha256: releases['1.3.0']!.sha256, workflowId: 'guard' });
    await fleet.recordDeltaOutcome(guard, { state: 'ready', sha256: listed.sha256, length: listed.length, location: listed.location, targetPath: 'releases/none', generationMs: 0 });
    const deps = { config, store, fleet };
    const policy = { now: new Date(Date.now() + 60_000), olderThanMs: 0, keepPerRelease: 0 };

    const dry = await collectOnDemandDeltas(deps, { ...policy, dryRun: true });
    expect(dry.removed.map((d) => d.location)).toEqual([ready.location]);
    expect(dry.kept).toEqual([{ hardwareId: DEVICE_HARDWARE, toVersion: '1.3.0', fromVersion: '1.2.0', why: 'a manifest lists these bytes' }]);
    expect(dry.freedBytes).toBe(ready.length);
    expect((await readRepository(store)).repo.targets.signed.targets[ready.targetPath!]).toBeDefined();
    expect(await store.head(ready.location!)).toBeDefined();

    const real = await collectOnDemandDeltas(deps, { ...policy, dryRun: false });
    expect(real.removed.map((d) => d.location)).toEqual([ready.location]);
    expect((await readRepository(store)).repo.targets.signed.targets[ready.targetPath!]).toBeUndefined();
    expect(await store.head(ready.location!)).toBeUndefined();
    expect(await store.head(listed.location)).toBeDefined();
    expect(await fleet.getDeltaRequest({ hardwareId: DEVICE_HARDWARE, toVersion: '1.3.0', fromSha256: ready.fromSha256, format: 'ops' })).toBeUndefined();
    expect(await fleet.getDeltaRequest(guard)).toMatchObject({ state: 'ready' });
    await fleet.removeDeltaRequest(guard);

    // The next device three releases behind asks again; the schedule makes it again under the same id.
    const sim = await device();
    const round = await checkInOnce(await sim.open(), FAST);
    expect(round.response).toMatchObject({ action: 'none', pollAfterSeconds: RETRY_AFTER });
    await until('the delta to be made again', async () => ((await fleet.getDeltaRequest({ hardwareId: DEVICE_HARDWARE, toVersion: '1.3.0', fromSha256: ready.fromSha256, format: 'ops' }))?.state === 'ready' ? true : undefined));
    const runs = await until('the second run to be visible', async () => {
      const ids = await deltaRuns();
      return ids.length === 2 ? ids : undefined;
    });
    expect(new Set(runs.map((r) => r.split('/')[0]))).toEqual(new Set([ready.workflowId]));
    expect((await checkInOnce(await sim.open(), FAST)).install).toMatchObject({ artifact: 'delta', deltaFormat: 'ops', version: '1.3.0' });
  }, 300_000);

  it('under the full policy a device on 1.1.0 installs the full image at once, and its request is recorded for the next device', async () => {
    const fullGateway = await startGateway({ host: '127.0.0.1', port: 0, version: 'test', fleet, store, pollAfterSeconds: 60, onDemandDeltas: { enabled: true, whileGenerating: 'full', retryAfterSeconds: RETRY_AFTER }, logError: (err) => console.error(err) });
    try {
      const id = ++seq;
      const sim = await createSimDevice(join(root, `device-${id}`), fixture, { factory: releases['1.1.0']!, config: { deviceId: `on-demand-${id}`, gatewayUrl: fullGateway.url } });
      await pinRoot(sim, (await readRepository(store)).repo);
      await enrollDevice(sim.config, { token: (await fleet.createEnrollmentToken({ deviceId: sim.config.deviceId, ttlSeconds: 3600, channel: 'stable', labels: {} })).token });
      const round = await checkInOnce(await sim.open(), FAST);
      expect(round.response).toMatchObject({ action: 'update', artifact: { kind: 'full' }, pollAfterSeconds: 60 });
      expect(round.install).toMatchObject({ outcome: 'installed', version: '1.3.0', artifact: 'full' });
      expect(await fleet.getDeltaRequest({ hardwareId: DEVICE_HARDWARE, toVersion: '1.3.0', fromSha256: releases['1.1.0']!.sha256, format: 'ops' })).toMatchObject({ fromVersion: '1.1.0', requests: 1 });
      // The schedule makes it for the next device on 1.1.0 (and the worker is not stopped mid-generation).
      const made = await until('the 1.1.0 delta', async () => {
        const row = await fleet.getDeltaRequest({ hardwareId: DEVICE_HARDWARE, toVersion: '1.3.0', fromSha256: releases['1.1.0']!.sha256, format: 'ops' });
        return row?.state === 'ready' || row?.state === 'failed' || row?.state === 'skipped' ? row : undefined;
      });
      expect(made.state).toBe('ready');
    } finally {
      fullGateway.server.closeAllConnections();
      await fullGateway.close();
    }
  }, 300_000);

  it('a dispatcher that finds the workflow of the pair already running starts no second run (already started)', async () => {
    const schedule = client.schedule.getHandle('delta-dispatch');
    await schedule.pause('this test dispatches by hand');
    // A run the schedule started just before the pause could still claim the request below: let it end first.
    for (const action of (await schedule.describe()).info.runningActions) {
      await client.workflow.getHandle(action.workflow.workflowId, action.workflow.firstExecutionRunId).result().catch(() => undefined);
    }
    const job = { hardwareId: DEVICE_HARDWARE, channel: 'stable', fromVersion: '1.0.0', toVersion: '1.2.0', fromSha256: 'd'.repeat(64), toSha256: releases['1.2.0']!.sha256, format: 'ops' as const };
    const workflowId = deltaWorkflowId(job.fromSha256, job.toSha256);
    // A run under that id that nobody picks up (no worker polls its queue): it stays running.
    const running = await client.workflow.start('deltaWorkflow', { taskQueue: 'nobody-polls', workflowId, args: [{ ...job, workflowId }] });
    try {
      await fleet.requestDelta({ ...job, workflowId });
      const result = await client.workflow.execute('deltaDispatchWorkflow', { taskQueue: config.temporal.taskQueue, workflowId: 'dispatch-already-started', args: [{ limit: 10, staleAfterSeconds: 600 }] });
      // (Another test's request may be claimed in the same run: only this pair is judged here.)
      expect(result.alreadyRunning).toEqual([workflowId]);
      expect(result.started).not.toContain(workflowId);
      const runs: string[] = [];
      for await (const execution of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs.push(execution.runId);
      expect(runs).toEqual([running.firstExecutionRunId]);
    } finally {
      await running.terminate('test over');
      await fleet.removeDeltaRequest(job);
    }
  }, 120_000);
});
