#!/usr/bin/env node
// Rollout benchmark: N simulated devices (default 10,000) speaking the signed device protocol over mTLS to
// the real gateway, a real Temporal dev server running RolloutWorkflow, the fleet store on PostgreSQL
// (a throwaway cluster; --fleet-store pglite for the embedded default). The devices run in
// --device-processes child processes (sim/fleet-shards.ts), so the gateway's process serves them and
// nothing else; the gateway and the worker share this process.
// Measures a good rollout end to end (time, workflow history events, gateway requests) and the
// halt delay of a crash-looping release: from the failure report that crosses the canary's
// threshold to the moment the gateway holds everyone else at check-in. Then, on a second pool of
// --noise-devices devices with seeded noise (bench/rollout-noise.mjs), a sequential policy's good,
// 20%-failing and 20%-bricking releases.
//
//   node bench/rollout.mjs [--devices 10000] [--device-processes N] [--fleet-store postgres|pglite]
//                          [--noise-devices 2000 (0: skip)] [--json] [--write-docs] [--docs-from FILE]
// --write-docs rewrites this run's part of docs/rollout-benchmark.md (bench/rollout-docs.mjs); --docs-from
// FILE writes it from a saved --json result instead of running.
//
// Uses the compiled dist/ (npm run bench builds it first).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { DEFAULT_DEVICES, writeRolloutDocs } from './rollout-docs.mjs';
import { runNoiseScenarios } from './rollout-noise.mjs';
import { postgresCpuSeconds, startPostgres } from './gateway-load-postgres.mjs';
import { startTemporalDevServer } from './temporal-dev-server.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = (p) => import(join(root, 'dist', p));
const args = process.argv.slice(2);
const flag = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const DEVICES = Number(flag('--devices', String(DEFAULT_DEVICES)));
const NOISE_DEVICES = Number(flag('--noise-devices', '2000'));
const DEVICE_PROCESSES = Number(flag('--device-processes', String(Math.max(1, cpus().length - 1))));
const FLEET_STORE = flag('--fleet-store', 'postgres');
if (!['postgres', 'pglite'].includes(FLEET_STORE)) throw new Error(`--fleet-store must be postgres or pglite, got ${FLEET_STORE}`);
if (!(Number.isInteger(DEVICE_PROCESSES) && DEVICE_PROCESSES >= 1)) throw new Error(`--device-processes must be a whole number >= 1, got ${DEVICE_PROCESSES}`);
const json = args.includes('--json');
const say = (line) => process.stderr.write(`${line}\n`);

// --docs-from FILE: write the page from a saved --json result (a long run done elsewhere), run nothing.
const docsFrom = flag('--docs-from', undefined);
if (docsFrom) {
  let saved;
  try {
    saved = JSON.parse(readFileSync(docsFrom, 'utf8'));
  } catch (error) {
    process.stderr.write(`--docs-from ${docsFrom}: ${error instanceof SyntaxError ? `not a saved --json result (${error.message})` : error.message}\n`);
    process.exit(1);
  }
  say(`wrote ${writeRolloutDocs(saved, { root, noiseDevices: NOISE_DEVICES }).join(' and ')} of docs/rollout-benchmark.md (from ${docsFrom})`);
  process.exit(0);
}

const [{ requireTool }, { loadConfig }, { createActivities }, { createWorker }, { buildReleaseRequest, startRelease }, { buildSampleImage }, { FleetStore }, { startGateway }, { createFleetCa }, { issueServerCertificate }, { ProtocolFleet }, { ShardedFleet }, { affects, bricks }, { parsePolicy }, { readTrustRoot }, { builderSigningModeFromConfig }, { parseManifest }, { openArtifactStore }, { manifestKey }, { rolloutWorkflow, rolloutStatusQuery, abortUpdate }] = await Promise.all([
  dist('platform/tools.js'),
  dist('config/load-config.js'),
  dist('activities/index.js'),
  dist('temporal/worker.js'),
  dist('temporal/release-client.js'),
  dist('demo/sample-image.js'),
  dist('fleet/fleet-store.js'),
  dist('gateway/server.js'),
  dist('identity/fleet-ca.js'),
  dist('identity/issue.js'),
  dist('sim/protocol-fleet.js'),
  dist('sim/fleet-shards.js'),
  dist('sim/fleet-noise.js'),
  dist('rollout/policy.js'),
  dist('signing/trust-root.js'),
  dist('signing/from-config.js'),
  dist('schemas/manifest.js'),
  dist('stores/index.js'),
  dist('release/layout.js'),
  dist('workflows/rollout.js'),
]);

const HARDWARE = 'bench-gw';
const work = mkdtempSync(join(tmpdir(), 'ota-rollout-bench-'));
Runtime.install({ logger: new DefaultLogger('ERROR') });

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
const results = { date: new Date().toISOString(), devices: DEVICES, noiseDevices: NOISE_DEVICES, machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version } };

say(`starting Temporal dev server and publishing releases (state in ${work})`);
const env = await startTemporalDevServer({
  executable: requireTool('temporal'),
  namespace: 'ota',
  searchAttributes: ['OtaRolloutState', 'OtaRelease', 'OtaHardware'],
  log: join(work, 'temporal.log'),
});
process.env.OTA_STATE_DIR = work;
const config = loadConfig({ env: { OTA_STATE_DIR: work, OTA_TEMPORAL_ADDRESS: env.address, OTA_TASK_QUEUE: 'bench' }, cwd: work });
const store = openArtifactStore(config.store);
const postgres = FLEET_STORE === 'postgres' ? await startPostgres() : undefined;
const fleetStore = await FleetStore.open(postgres ? postgres.url : `pglite:${join(work, 'fleet')}`);
results.fleetStore = postgres ? 'PostgreSQL (throwaway cluster on loopback, fsync off)' : 'PGlite (embedded, in the gateway process)';
results.deviceProcesses = DEVICE_PROCESSES;
// CPU of this process (gateway + worker) and of PostgreSQL, per phase.
const cpuNow = () => {
  const u = process.cpuUsage();
  return { gateway: (u.user + u.system) / 1e6, database: postgres ? postgresCpuSeconds(postgres.pid) : 0 };
};
const cpuSince = (before, seconds) => {
  const now = cpuNow();
  const g = now.gateway - before.gateway;
  const d = now.database - before.database;
  return { gatewayWorkerCpuSeconds: Math.round(g * 10) / 10, gatewayWorkerCores: Math.round((g / seconds) * 100) / 100, databaseCpuSeconds: Math.round(d * 10) / 10, databaseCores: Math.round((d / seconds) * 100) / 100 };
};
const { worker, connection } = await createWorker(config.temporal, createActivities(config, { fleet: async () => fleetStore }));
const running = worker.run();
const client = env.client;

try {
  // The noisy pool starts on 1.1.0 and gets 1.3.0, 1.4.0, 1.5.0: deltas from up to three releases back.
  const noiseReleases = NOISE_DEVICES > 0 ? [['1.3.0', false, 3], ['1.4.0', false, 3], ['1.5.0', false, 3]] : [];
  for (const [version, crashLoop, deltaCount] of [['1.0.0', false, 1], ['1.1.0', false, 1], ['1.2.0', true, 1], ...noiseReleases]) {
    const image = join(work, `fw-${version}.tar`);
    buildSampleImage({ version, out: image, crashLoop });
    const request = await buildReleaseRequest(store, { image, components: [] }, {
      hardwareId: HARDWARE, version, channel: 'stable', securityVersion: 1, signing: 'key',
      provenance: { buildType: 'bench', builderId: 'https://edge-ota.dev/bench', externalParameters: {} },
      deltaCount, deltaMaxRatio: 0.75, validityDays: 30,
    }, undefined, await builderSigningModeFromConfig(config.builder, config.signing));
    await (await startRelease(client, 'bench', request)).result();
  }

  // Over mutual TLS, as a production fleet: a fleet CA, the gateway's server certificate, and every
  // simulated device holding a short-lived client certificate it got after enrollment.
  const fleetCa = await createFleetCa();
  const serverCert = await issueServerCertificate(fleetCa, { ipAddresses: ['127.0.0.1'] });
  const fleetCaPem = fleetCa.root.certPem;
  const gateway = await startGateway({
    // Each simulated device checks in once per round, a quarter of an hour apart at 100,000 devices: an
    // hourly poll. The nextNonce and the TLS session then live the poll + 600 s (their defaults), so a
    // device's next check-in is one request on a resumed session. Before, with a 60 s poll, the nextNonce
    // (660 s) had expired once rounds took 11 minutes (three requests, not one) and Node's 300 s TLS
    // sessions after 5 (a full handshake, not a resumed one).
    host: '127.0.0.1', port: 0, version: 'bench', fleet: fleetStore, store, nonceTtlSeconds: 600, pollAfterSeconds: 3600, releasePolicy: 'rollouts',
    tls: { key: serverCert.keyPem, cert: serverCert.chainPem }, deviceIdentity: { ca: fleetCa },
    // Devices keep their connection for one conversation (check-in, download, report); an idle one is
    // closed after 5 s, as a gateway serving a polling fleet would, so open sockets stay bounded.
    keepAliveTimeoutSeconds: 5,
  });
  results.transport = 'mTLS (TLS 1.3, device client certificates, keep-alive and session resumption)';
  // Admission per device: the operator side preauthorizes each simulated device's key first (inside the enroll timing: one SQL transaction for the fleet).
  const preauthorize = async (list) => {
    await fleetStore.preauthorizeAll(list);
  };
  // Counted at the gateway: the devices talk through node:https (platform/tls-fetch.ts), not global fetch.
  let requests = 0;
  gateway.server.on('request', () => requests++);

  // --devices 0: only the noisy fleet (the plain figures in the docs are kept).
  if (DEVICES > 0) {
    const v1 = parseManifest(await store.getBytes(manifestKey(HARDWARE, '1.0.0')));
    say(`enrolling ${DEVICES} devices in ${DEVICE_PROCESSES} device process(es)`);
    // Install failures are counted here, in the parent, as the shards report them: the third crosses
    // the canary's maxFailures (2), and its report is sent right after.
    let failures = 0;
    let breachAt;
    let started = Date.now();
    let cpu = cpuNow();
    let lastProgress = Date.now();
    const fleet = await ShardedFleet.enroll({
      count: DEVICES, processes: DEVICE_PROCESSES, hardwareId: HARDWARE, channel: 'stable', gatewayUrl: gateway.url, preauthorize,
      trustRoot: await readTrustRoot(config.trust.trustedRootPath),
      factory: { version: '1.0.0', imageSha256: v1.image.sha256, securityVersion: v1.securityVersion },
      concurrency: 32, fleetCaPem,
      onEnrollProgress: (enrolled) => {
        if (Date.now() - lastProgress < 30_000) return;
        lastProgress = Date.now();
        say(`  ${enrolled} of ${DEVICES} enrolled (${Math.round(enrolled / ((Date.now() - started) / 1000))}/s so far)`);
      },
      onFailure: (at) => {
        failures++;
        if (failures === 3) breachAt = at;
      },
    });
    const enrollSeconds = (Date.now() - started) / 1000;
    results.enroll = { seconds: enrollSeconds, perSecond: Math.round(DEVICES / enrollSeconds), ...cpuSince(cpu, enrollSeconds) };
    say(`  ${enrollSeconds.toFixed(1)} s (${results.enroll.perSecond}/s)`);

    // Four rings, sizes cumulative: a 50-device canary, 2%, 20%, everyone.
    const policy = parsePolicy({
      target: { hardware: HARDWARE },
      rings: [
        { name: 'canary', size: { count: 50 }, bakeTime: '1s', minReports: 50, thresholds: { failureRate: 0.1, maxFailures: 2, perKind: { boot: { count: 2 } } }, onBreach: 'rollback' },
        { name: 'early', size: { percent: 2 }, bakeTime: '1s', minReports: Math.ceil(DEVICES * 0.012), thresholds: { failureRate: 0.02, maxFailures: 20 }, onBreach: 'halt' },
        { name: 'wide', size: { percent: 20 }, bakeTime: '1s', minReports: Math.ceil(DEVICES * 0.16), thresholds: { failureRate: 0.01, maxFailures: 100 }, onBreach: 'halt' },
        { name: 'fleet', size: { percent: 100 }, bakeTime: '1s', minReports: Math.ceil(DEVICES * 0.75), thresholds: { failureRate: 0.01, maxFailures: 500 }, onBreach: 'halt' },
      ],
      exposureBudget: { percent: 100 },
      maxConcurrentInstalls: DEVICES,
      pollInterval: '1s',
    });
    const crashing = { failing: { versions: ['1.2.0'], kind: 'boot', fallsBack: true } };
    let versions = {};
    let deviceErrors = 0;

    const rollout = async (version) => {
      const id = `bench-${version}-${Date.now()}`;
      const handle = await client.workflow.start(rolloutWorkflow, { taskQueue: 'bench', workflowId: id, args: [{ rolloutId: id, hardwareId: HARDWARE, channel: 'stable', releaseVersion: version, policy, requestedBy: 'bench' }] });
      let done = false;
      const result = handle.result().finally(() => (done = true));
      const rounds = [];
      while (!done) {
        const t = Date.now();
        const summary = await fleet.tick(crashing);
        versions = summary.versions;
        deviceErrors += summary.deviceErrors;
        const s = await handle.query(rolloutStatusQuery).catch(() => undefined);
        const round = { seconds: (Date.now() - t) / 1000, ring: s?.rings?.[s.ringIndex]?.name, state: s?.state, exposure: s?.exposure?.devices, installed: summary.actions.updated ?? 0, freshNonces: summary.freshNonces };
        rounds.push(round);
        say(`  round ${rounds.length} (${round.seconds.toFixed(1)} s): ${s?.state} in ${round.ring}, exposure ${round.exposure}, ${JSON.stringify(versions)}, ${summary.freshNonces} check-ins fetched a nonce first${summary.deviceErrors ? `, ${summary.deviceErrors} device conversations failed (retried next round)` : ''}`);
      }
      const status = await result;
      const description = await handle.describe();
      return { id, status, historyEvents: Number(description.raw.workflowExecutionInfo?.historyLength ?? 0), rounds };
    };

    say(`rolling 1.1.0 out to ${DEVICES} devices`);
    requests = 0;
    started = Date.now();
    cpu = cpuNow();
    const good = await rollout('1.1.0');
    const goodSeconds = (Date.now() - started) / 1000;
    results.goodRollout = {
      seconds: goodSeconds,
      state: good.status.state,
      onRelease: versions['1.1.0'] ?? 0,
      historyEvents: good.historyEvents,
      checkinRounds: good.rounds.length,
      rounds: good.rounds,
      gatewayRequests: requests,
      gatewayRequestsPerSecond: Math.round(requests / goodSeconds),
      ...cpuSince(cpu, goodSeconds),
    };
    // What the workflow reads once per poll: the largest ring's health, timed here after the rollout.
    const readStarted = performance.now();
    const fleetRing = await fleetStore.ringReportCounts(good.id, 'fleet');
    results.goodRollout.ringHealthRead = { ring: 'fleet', assigned: fleetRing.assigned, ms: Math.round(performance.now() - readStarted) };
    say(`  ${JSON.stringify(results.goodRollout)}`);

    say('rolling out crash-looping 1.2.0');
    // Watch the fleet store for the halt/rollback the workflow applies at the check-in point.
    let heldAt;
    const watcher = setInterval(async () => {
      if (heldAt || !breachAt) return;
      const { rows } = await fleetStore.db.query(`SELECT state FROM rollouts WHERE release_version = '1.2.0'`);
      if (rows.some((r) => r.state === 'rolling-back' || r.state === 'halted')) heldAt = Date.now();
    }, 20);
    requests = 0;
    started = Date.now();
    const bad = await rollout('1.2.0');
    clearInterval(watcher);
    results.crashRollout = {
      seconds: (Date.now() - started) / 1000,
      state: bad.status.state,
      exposure: bad.status.exposure.devices,
      failures,
      haltDelayMs: heldAt && breachAt ? heldAt - breachAt : null,
      pollInterval: policy.pollInterval,
      historyEvents: bad.historyEvents,
      backOnPrevious: versions['1.1.0'] ?? 0,
    };
    results.deviceConversationsFailed = deviceErrors;
    results.deviceProcessPeakRssMiB = (await fleet.close()).map((b) => Math.round(b / 2 ** 20));
    say(`  ${JSON.stringify(results.crashRollout)}`);
  }
  if (NOISE_DEVICES > 0) {
    const v11 = parseManifest(await store.getBytes(manifestKey(HARDWARE, '1.1.0')));
    results.noise = await runNoiseScenarios({
      client, fleetStore, gateway, ProtocolFleet, parsePolicy, rolloutWorkflow, rolloutStatusQuery, abortUpdate, bricks,
      failsShare: (share, seed) => affects(share, seed, { result: 'fail', kind: 'boot', fallsBack: true }),
      hardware: HARDWARE, preauthorize, fleetCaPem, trustRoot: await readTrustRoot(config.trust.trustedRootPath),
      factory: { version: '1.1.0', imageSha256: v11.image.sha256, securityVersion: v11.securityVersion },
      releases: { good: '1.3.0', failing: '1.4.0', bricking: '1.5.0' },
      devices: NOISE_DEVICES, say,
    });
  }
  results.peakRssMiB = Math.round(peakRss / 2 ** 20);
  await gateway.close();
} finally {
  clearInterval(sampler);
  worker.shutdown();
  await running.catch(() => undefined);
  await connection.close();
  await fleetStore.close();
  await postgres?.stop();
  await store.close();
  await env.stop();
  rmSync(work, { recursive: true, force: true });
}

if (json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
else process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);

if (args.includes('--write-docs')) say(`wrote ${writeRolloutDocs(results, { root, noiseDevices: NOISE_DEVICES }).join(' and ')} of docs/rollout-benchmark.md`);
