#!/usr/bin/env node
// Gateway throughput, measured honestly: one gateway process (bench/gateway-load-server.mjs) on
// PostgreSQL over mutual TLS, driven by load generators in their own processes
// (bench/gateway-load-client.mjs), never in the gateway's. Devices, keys, certificates and
// enrollments are made before anything is timed. Scenarios, each after a warm-up:
//   (a) signed check-ins, one request each (signed over the previous answer's nextNonce; answered a
//       signed `none` after reading the channel index), keep-alive; and the two-request check-in of
//       devices from before nextNonce (nonce + check-in)
//   (b) (a) with a new TLS connection per check-in, session resumption on
//   (c) signed health reports (nonce + report)
//   (d) 64 KiB Range requests of a 4 MiB delta blob
// and, for what TLS costs: check-ins with a full TLS handshake each (no resumption), and check-ins over
// plain HTTP against a second gateway process without TLS (same database).
// Per scenario: rate, p50/p99 latency, the gateway's CPU per operation (process.cpuUsage, the figure
// that depends least on other load), its event-loop utilisation, PostgreSQL's CPU per operation
// (/proc of the postmaster and its backends), and the load average. Then a second run of (a) with
// the V8 CPU profiler over its timed window, summarised by where the time goes
// (bench/gateway-load-profile.mjs).
//
//   node bench/gateway-load.mjs [--quick] [--devices 2000] [--clients 2] [--concurrency 32] [--seconds 10]
//        [--scenarios checkin,twostep,resumed,full,report,range,plain] [--no-profile] [--profile-scenario checkin] [--keep-profile FILE]
//        [--latency-sweep 4,8,16 | --no-latency-sweep] [--json] [--json-out FILE] [--write-docs] [--docs-from FILE]
//
// The latency sweep runs (a) and (b) again at lower concurrencies: a rate and a p99 are only a pair
// at one concurrency (Little's law), so the p99 target is judged by the highest rate reached with p99
// within it, not by the p99 at the concurrency that maximises the rate.
//
// --quick: 200 devices, 3 s per scenario (a smoke run). Uses the compiled dist/ (npm run build).
// --write-docs replaces the marked "Gateway throughput" block of docs/benchmarks.md; --docs-from FILE
// renders it again from a run's --json-out without measuring.
// @ts-check
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { postgresCpuSeconds, startPostgres } from './gateway-load-postgres.mjs';
import { summariseProfile } from './gateway-load-profile.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = (p) => import(pathToFileURL(join(root, 'dist', p)).href);
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const DEVICES = Number(option('--devices', quick ? '200' : '2000'));
const CLIENTS = Number(option('--clients', '2'));
const CONCURRENCY = Number(option('--concurrency', '32'));
const SECONDS = Number(option('--seconds', quick ? '3' : '10'));
const WARMUP_SECONDS = Number(option('--warmup', quick ? '1' : '3'));
const SCENARIOS = option('--scenarios', 'checkin,twostep,resumed,full,report,range,plain').split(',');
const PROFILE = !args.includes('--no-profile');
const PROFILED = option('--profile-scenario', 'checkin');
const SWEEP = args.includes('--no-latency-sweep') ? [] : option('--latency-sweep', quick ? '' : '4,8,16').split(',').filter(Boolean).map(Number);
const SWEPT = ['checkin', 'resumed'];
const P99_TARGET_MS = 50;
const json = args.includes('--json');
const writeDocs = args.includes('--write-docs');
const say = (line) => process.stderr.write(`${line}\n`);

const HARDWARE = 'bench-load';
const CHANNEL = 'stable';
const VERSION = '1.0.0';
const IMAGE_SHA = 'a'.repeat(64);
const DELTA_BYTES = 4 * 1024 * 1024;

const [{ FleetStore }, { LocalArtifactStore }, { createFleetCa }, { issueServerCertificate, issueDeviceCertificate }, { generateDeviceKey }, { canonicalReleaseIndexBytes, parseReleaseIndex }, { releaseIndexKey }] = await Promise.all([
  dist('fleet/fleet-store.js'),
  dist('stores/local-store.js'),
  dist('identity/fleet-ca.js'),
  dist('identity/issue.js'),
  dist('schemas/device-envelope.js'),
  dist('schemas/manifest.js'),
  dist('release/layout.js'),
]);

const work = mkdtempSync(join(tmpdir(), 'ota-gwload-'));
const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN);

/** Devices enrolled straight into the fleet store with recorded certificates: setup, not timed. */
async function prepareFleet(fleet, ca) {
  const devices = [];
  const now = new Date();
  const one = async (i) => {
    const id = `load-${String(i).padStart(6, '0')}`;
    const key = generateDeviceKey('ecdsa-p256-sha256');
    await fleet.enrollDevice({ id, hardwareId: HARDWARE, channel: CHANNEL, labels: { bench: 'load' }, publicKeyPem: key.publicKeyPem, keyAlgorithm: key.algorithm });
    const cert = await issueDeviceCertificate(ca, { deviceId: id, publicKeyPem: key.publicKeyPem, now });
    await fleet.recordCertificate({ serial: cert.serialNumber, deviceId: id, notBefore: new Date(now.getTime() - 60_000), notAfter: cert.notAfter, requestedAt: now });
    devices[i] = { id, keyPem: key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), certPem: cert.chainPem };
  };
  for (let i = 0; i < DEVICES; i += 16) await Promise.all(Array.from({ length: Math.min(16, DEVICES - i) }, (_, k) => one(i + k)));
  return devices;
}

/** The channel index the check-ins read (devices already run its only release: answered none) and a delta blob for Range. */
async function prepareStore(storeDir) {
  const store = new LocalArtifactStore(storeDir);
  const index = { schemaVersion: 1, hardwareId: HARDWARE, channel: CHANNEL, updated: new Date().toISOString(), releases: [{ version: VERSION, securityVersion: 0, created: new Date().toISOString(), manifest: { location: `releases/${HARDWARE}/${VERSION}/manifest.json`, sha256: 'b'.repeat(64) } }] };
  const bytes = canonicalReleaseIndexBytes(index);
  parseReleaseIndex(bytes); // the gateway must read it as a real index
  await store.createIfAbsent(releaseIndexKey(HARDWARE, CHANNEL), bytes);
  const blob = await store.putBlob([randomBytes(DELTA_BYTES)]);
  await store.close?.();
  return { rangeKey: blob.key, rangeLength: DELTA_BYTES };
}

function startGatewayProcess(configPath) {
  const child = fork(join(root, 'bench', 'gateway-load-server.mjs'), [configPath], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ask = (message = 'cpu') => new Promise((resolve) => child.once('message', resolve).send(message));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`gateway process exited with ${code} before it was ready`)));
    child.once('message', (m) => {
      child.removeAllListeners('exit');
      resolve({
        url: m.ready,
        pid: child.pid,
        ask,
        stop: () => new Promise((done) => (child.once('exit', done), child.send('stop'))),
      });
    });
  });
}

/** One scenario: CLIENTS generator processes, warm-up, then the timed window with CPU read around it. */
async function scenario(name, gateway, devices, setup, pgPid, profilePath, concurrency = CONCURRENCY) {
  const share = Math.ceil(devices.length / CLIENTS);
  const children = Array.from({ length: CLIENTS }, (_, i) => fork(join(root, 'bench', 'gateway-load-client.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const warm = children.map((c) => new Promise((resolve) => c.once('message', resolve)));
  children.forEach((c, i) =>
    c.send({
      url: gateway.url, plain: name === 'plain', caPem: setup.caPem, scenario: name, hardwareId: HARDWARE, currentVersion: VERSION, imageSha256: IMAGE_SHA,
      devices: devices.slice(i * share, (i + 1) * share), concurrency: Math.max(1, Math.round(concurrency / CLIENTS)),
      warmupMs: WARMUP_SECONDS * 1000, durationMs: SECONDS * 1000, rangeKey: setup.rangeKey, rangeLength: setup.rangeLength,
      counterStart: setup.counters[name] ?? 0,
    }),
  );
  await Promise.all(warm);
  if (profilePath) await gateway.ask({ profileStart: true });
  const before = await gateway.ask();
  const pgBefore = postgresCpuSeconds(pgPid);
  const started = performance.now();
  const done = children.map((c) => new Promise((resolve) => c.once('message', resolve)));
  let load1 = loadavg()[0];
  const sampler = setInterval(() => (load1 = Math.max(load1, loadavg()[0])), 1000);
  children.forEach((c) => c.send('go'));
  const parts = await Promise.all(done);
  clearInterval(sampler);
  const wall = (performance.now() - started) / 1000;
  const after = await gateway.ask();
  if (profilePath) await gateway.ask({ profileStop: profilePath });
  const pgCpu = postgresCpuSeconds(pgPid) - pgBefore;
  const gwCpu = (after.cpu.user - before.cpu.user + after.cpu.system - before.cpu.system) / 1e6;
  const count = parts.reduce((n, p) => n + p.count, 0);
  const seconds = Math.max(...parts.map((p) => p.seconds));
  const latencies = parts.flatMap((p) => p.latencies).sort((a, b) => a - b);
  const row = {
    scenario: name,
    concurrency,
    operations: count,
    perSecond: count / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    errors: parts.reduce((n, p) => n + p.errors, 0),
    firstError: parts.find((p) => p.firstError)?.firstError,
    gatewayCpuSeconds: gwCpu,
    /** Of that, the kernel's share (syscalls; on loopback also both ends' TCP processing, charged to the sender). */
    gatewaySystemShare: gwCpu ? (after.cpu.system - before.cpu.system) / 1e6 / gwCpu : NaN,
    gatewayCpuMsPerOp: count ? (gwCpu * 1000) / count : NaN,
    opsPerGatewayCpuSecond: gwCpu ? count / gwCpu : NaN,
    gatewayCores: gwCpu / wall,
    gatewayEventLoop: after.eventLoop,
    gatewayRssBytes: after.rss,
    postgresCpuMsPerOp: count ? (pgCpu * 1000) / count : NaN,
    /** The load generators' own CPU in the timed window (signing, TLS, HTTP): on this machine they share the cores. */
    generatorCpuMsPerOp: count ? (parts.reduce((n, p) => n + p.cpu.user + p.cpu.system, 0) / 1000) / count : NaN,
    postgresCores: pgCpu / wall,
    handshakes: parts.reduce((n, p) => n + p.handshakes, 0),
    /** Check-ins signed over a held nextNonce: one request each. */
    heldNonceCheckins: parts.reduce((n, p) => n + (p.heldUsed ?? 0), 0),
    resumed: parts.reduce((n, p) => n + p.resumed, 0),
    /** Requests retried once after the keep-alive race (server closed an idle socket as it was reused). */
    keepAliveRetries: parts.reduce((n, p) => n + (p.retries ?? 0), 0),
    megabytesPerSecond: parts.reduce((n, p) => n + p.bytes, 0) / seconds / 1e6,
    loadAvg1Max: Number(load1.toFixed(2)),
  };
  setup.counters[name] = (setup.counters[name] ?? 0) + 1e5; // reports: the next run of this scenario starts above (counter bound: see below)
  say(`${name}${concurrency === CONCURRENCY ? '' : ` (concurrency ${concurrency})`}: ${row.perSecond.toFixed(0)}/s, p50 ${row.p50Ms.toFixed(1)} ms, p99 ${row.p99Ms.toFixed(1)} ms, gateway ${row.gatewayCpuMsPerOp.toFixed(3)} ms CPU/op (${row.gatewayCores.toFixed(2)} cores, ${(row.gatewaySystemShare * 100).toFixed(0)}% kernel), postgres ${row.postgresCpuMsPerOp.toFixed(3)} ms CPU/op, errors ${row.errors}${row.firstError ? ` (${row.firstError})` : ''}, load ${row.loadAvg1Max}`);
  return row;
}

const LABELS = {
  checkin: '(a) signed check-in, one request (over the last answer\'s nextNonce), mTLS keep-alive',
  twostep: 'signed check-in as before nextNonce (nonce + check-in), mTLS keep-alive',
  resumed: '(b) signed check-in (one request), new TLS connection per check-in, session resumed',
  report: '(c) signed report (nonce + report), mTLS keep-alive',
  range: '(d) Range GET 64 KiB of a 4 MiB delta, mTLS keep-alive',
  full: 'signed check-in, new TLS connection per check-in, full handshake (no resumption)',
  plain: 'signed check-in (one request) over plain HTTP, keep-alive (no TLS: the TLS cost by difference)',
};

/** The runs of the swept scenarios at every concurrency: the sweep's and the main run's. */
function sweptRuns(result) {
  return [...(result.sweep ?? []), ...result.scenarios.filter((r) => SWEPT.includes(r.scenario))];
}

function table(result) {
  const f = (n, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : '–');
  const lines = [
    `| scenario (${result.devices} devices, ${result.clients} generator processes, concurrency ${result.concurrency}, ${result.seconds} s each) | per second | p50 | p99 | gateway CPU per op | ops per gateway CPU-second | gateway cores used | gateway event loop busy | PostgreSQL CPU per op | load generators CPU per op | TLS handshakes (resumed) | errors | load avg (1 min, max) |`,
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...result.scenarios.map((r) => `| ${LABELS[r.scenario] ?? r.scenario} | ${f(r.perSecond)}${r.scenario === 'range' ? ` (${f(r.megabytesPerSecond)} MB/s)` : ''} | ${f(r.p50Ms, 1)} ms | ${f(r.p99Ms, 1)} ms | ${f(r.gatewayCpuMsPerOp, 2)} ms | ${f(r.opsPerGatewayCpuSecond)} | ${f(r.gatewayCores, 2)} | ${f(r.gatewayEventLoop * 100)}% | ${f(r.postgresCpuMsPerOp, 2)} ms | ${f(r.generatorCpuMsPerOp, 2)} ms | ${r.handshakes} (${r.resumed}) | ${r.errors} | ${r.loadAvg1Max} |`),
  ];
  const sweep = sweptRuns(result).sort((a, b) => a.scenario.localeCompare(b.scenario) || a.concurrency - b.concurrency);
  if (result.sweep?.length) {
    lines.push('', `Latency against rate (a rate and a p99 go together only at one concurrency): (a) and (b) at each concurrency, ${result.seconds} s each:`, '', '| scenario | concurrency | per second | p50 | p99 | gateway CPU per op | errors |', '|---|---|---|---|---|---|---|');
    for (const r of sweep) lines.push(`| ${LABELS[r.scenario]?.split(' ')[0] ?? r.scenario} | ${r.concurrency} | ${f(r.perSecond)} | ${f(r.p50Ms, 1)} ms | ${f(r.p99Ms, 1)} ms | ${f(r.gatewayCpuMsPerOp, 2)} ms | ${r.errors} |`);
  }
  if (result.profile) {
    lines.push('', `Where the gateway's time goes in ${LABELS[result.profile.scenario ?? 'checkin']?.split(' ')[0] ?? result.profile.scenario} (V8 CPU profiler over a second timed run, self time by bucket, ${f(result.profile.busySeconds, 1)} s busy, idle ${f(result.profile.idleShare * 100)}% of the run):`, '', '| bucket | share of busy time |', '|---|---|');
    for (const b of result.profile.buckets.filter((b) => b.share >= 0.005)) lines.push(`| ${b.bucket} | ${f(b.share * 100, 1)}% |`);
  }
  return lines.join('\n');
}

const docsFrom = option('--docs-from', undefined);
const result = docsFrom ? JSON.parse(readFileSync(docsFrom, 'utf8')) : { date: new Date().toISOString(), command: `node bench/gateway-load.mjs ${args.join(' ')}`.trim(), devices: DEVICES, clients: CLIENTS, concurrency: CONCURRENCY, seconds: SECONDS, machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, loadAvgAtStart: loadavg().map((n) => Number(n.toFixed(2))) }, scenarios: [], sweep: [], profile: undefined };
let exitCode = 0;
const pg = docsFrom ? undefined : await startPostgres();
if (pg) try {
  say(`gateway load bench: PostgreSQL at ${pg.url}; enrolling ${DEVICES} devices with certificates (not timed)`);
  const ca = await createFleetCa();
  const server = await issueServerCertificate(ca, { ipAddresses: ['127.0.0.1'] });
  const fleet = await FleetStore.open(pg.url);
  const devices = await prepareFleet(fleet, ca);
  await fleet.close();
  const storeDir = join(work, 'artifacts');
  mkdirSync(storeDir, { recursive: true });
  const setup = { ...(await prepareStore(storeDir)), caPem: ca.root.certPem, counters: {} };
  const configPath = join(work, 'gateway.json');
  writeFileSync(configPath, JSON.stringify({ databaseUrl: pg.url, storeDir, tls: { key: server.keyPem, cert: server.chainPem }, ca }), { mode: 0o600 });

  const gateway = await startGatewayProcess(configPath);
  try {
    for (const name of SCENARIOS.filter((n) => n !== 'plain')) result.scenarios.push(await scenario(name, gateway, devices, setup, pg.pid));
    for (const name of SWEPT.filter((n) => SCENARIOS.includes(n))) {
      for (const concurrency of SWEEP.filter((c) => c !== CONCURRENCY)) result.sweep.push(await scenario(name, gateway, devices, setup, pg.pid, undefined, concurrency));
    }
  } finally {
    await gateway.stop();
  }
  if (SCENARIOS.includes('plain')) {
    const plainConfig = join(work, 'gateway-plain.json');
    writeFileSync(plainConfig, JSON.stringify({ databaseUrl: pg.url, storeDir, plain: true }), { mode: 0o600 });
    const plain = await startGatewayProcess(plainConfig);
    try {
      result.scenarios.push(await scenario('plain', plain, devices, setup, pg.pid));
    } finally {
      await plain.stop();
    }
  }
  if (PROFILE && SCENARIOS.includes(PROFILED) && PROFILED !== 'plain') {
    // A second run of (a) with the V8 CPU profiler on over its timed window (the profiler's own cost is
    // kept out of the figures above).
    const file = option('--keep-profile', join(work, `${PROFILED}.cpuprofile`));
    say(`profiling ${PROFILED} with the V8 CPU profiler`);
    const profiled = await startGatewayProcess(configPath);
    try {
      await scenario(PROFILED, profiled, devices, setup, pg.pid, file);
    } finally {
      await profiled.stop();
    }
    result.profile = { scenario: PROFILED, ...summariseProfile(file) };
  }
  if ([...result.scenarios, ...result.sweep].some((r) => r.errors > 0)) {
    say('FAILED: some requests failed (see errors)');
    exitCode = 1;
  }
} finally {
  await pg.stop();
  rmSync(work, { recursive: true, force: true });
}
if (!docsFrom) result.machine.loadAvgAtEnd = loadavg().map((n) => Number(n.toFixed(2)));
const text = table(result);
process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : `\n${text}\n`);
const jsonOut = option('--json-out', undefined);
if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(result, null, 2)}\n`);
if (writeDocs) {
  const docs = join(root, 'docs', 'benchmarks.md');
  const start = '<!-- gateway-load:start -->';
  const end = '<!-- gateway-load:end -->';
  const block = `${start}\n${docsSection(result, text)}\n${end}`;
  const old = readFileSync(docs, 'utf8');
  const next = old.includes(start) ? old.replace(new RegExp(`${start}[\\s\\S]*?${end}`), () => block) : `${old.trimEnd()}\n\n${block}\n`;
  writeFileSync(docs, next);
  say('wrote the gateway throughput block of docs/benchmarks.md');
}
process.exitCode = exitCode;

/** Said when the "keep-alive" rows paid a handshake per operation anyway: connections idle longer than the gateway keeps them. */
function keepAliveNote(r) {
  const churned = r.scenarios.filter((x) => ['checkin', 'report', 'range'].includes(x.scenario) && x.handshakes > 0.5 * x.operations);
  if (!churned.length) return [];
  const names = churned.map((x) => x.scenario).join(', ');
  return [
    `**Keep-alive did not hold in ${names}**: with ${r.devices} devices at these rates one device's requests came more than the gateway's keep-alive timeout apart, so the connection was closed in between and nearly every operation opened a new one, resuming its TLS session (see the handshake column): those rows measure a resumed handshake per operation, like (b). Only the nonce and its check-in shared a connection. Fleets polling every few minutes are in that case too: per check-in, budget a resumed TLS handshake.`,
  ];
}

function docsSection(r, text) {
  const by = Object.fromEntries(r.scenarios.map((x) => [x.scenario, x]));
  const f = (n, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : '–');
  const verdict = (ok) => (ok ? 'met' : 'not met');
  const targets = [];
  if (by.checkin) targets.push(`| ≥ 2,000 signed check-ins/s over mTLS, keep-alive, one gateway process | ${f(by.checkin.perSecond)}/s with ${f(by.checkin.gatewayCores, 2)} gateway cores; ${f(by.checkin.opsPerGatewayCpuSecond)} per gateway CPU-second (${f(by.checkin.gatewayCpuMsPerOp, 2)} ms CPU each, PostgreSQL ${f(by.checkin.postgresCpuMsPerOp, 2)} ms) | ${verdict(by.checkin.perSecond >= 2000)} |`);
  if (by.resumed) targets.push(`| ≥ 500/s with a TLS handshake per check-in (resumed) | ${f(by.resumed.perSecond)}/s; ${f(by.resumed.opsPerGatewayCpuSecond)} per gateway CPU-second; ${by.resumed.resumed} of ${by.resumed.handshakes} handshakes resumed | ${verdict(by.resumed.perSecond >= 500)} |`);
  if (by.checkin) targets.push(`| p99 ≤ 50 ms | at concurrency ${r.concurrency}: ${f(by.checkin.p99Ms, 1)} ms (keep-alive)${by.resumed ? `, ${f(by.resumed.p99Ms, 1)} ms (resumed)` : ''} | ${verdict(by.checkin.p99Ms <= P99_TARGET_MS && (!by.resumed || by.resumed.p99Ms <= P99_TARGET_MS))} |`);
  for (const [name, rate, label] of [['checkin', 2000, 'keep-alive'], ['resumed', 500, 'resumed']]) {
    const runs = sweptRuns(r).filter((x) => x.scenario === name);
    if (!r.sweep?.length || !runs.length) continue;
    const within = runs.filter((x) => x.p99Ms <= P99_TARGET_MS).sort((a, b) => b.perSecond - a.perSecond)[0];
    targets.push(`| ≥ ${rate.toLocaleString('en-US')}/s ${label} with p99 ≤ ${P99_TARGET_MS} ms (the highest rate of the sweep within it) | ${within ? `${f(within.perSecond)}/s at concurrency ${within.concurrency}, p99 ${f(within.p99Ms, 1)} ms` : `no concurrency of ${runs.map((x) => x.concurrency).join(', ')} kept p99 within ${P99_TARGET_MS} ms`} | ${verdict(Boolean(within && within.perSecond >= rate))} |`);
  }
  const both = by.checkin && by.checkin.gatewayCpuMsPerOp + by.checkin.postgresCpuMsPerOp;
  return [
    '## Gateway throughput (`bench/gateway-load.mjs`)',
    '',
    `Written by \`${r.command}\` on ${r.date}: ${r.machine.cpus} vCPU (${r.machine.cpu}), Node ${r.machine.node}; load average ${r.machine.loadAvgAtStart.join(' / ')} at start, ${r.machine.loadAvgAtEnd.join(' / ')} at the end (other jobs share the machine: read the rates as lower bounds and the CPU per operation as the figure that depends least on that load).`,
    'One gateway process on PostgreSQL over mutual TLS (TLS 1.3, a client certificate per device, revocation read per request, keep-alive 120 s); load generators in separate processes; devices enrolled with certificates before timing. A check-in is one request: signed over the `nextNonce` of the device\'s previous answer and answered by a signed `none` (with the next nonce) after reading the channel index; the two-request check-in of devices from before `nextNonce` (nonce, check-in) is its own row. A report is two requests (nonce, signed report).',
    '',
    text,
    '',
    '| target (issue 17) | measured | |',
    '|---|---|---|',
    ...targets,
    '',
    '**Reading the figures.** The rate is what the gateway reached with the CPU it was given ("gateway cores used"); on a machine whose load average exceeds its cores the gateway waits for a core, so the rate and the latencies say more about the machine than about the gateway. The CPU per operation (`process.cpuUsage` of the gateway process, and of PostgreSQL\'s processes from /proc) is the figure to compare between runs, though contention inflates it too.'
      + (both ? ` At ${f(by.checkin.gatewayCpuMsPerOp, 2)} ms per check-in one gateway core serves at most about ${f(1000 / by.checkin.gatewayCpuMsPerOp)} check-ins/s; with PostgreSQL on the same 2 cores (${f(both, 2)} ms for both) about ${f(2000 / both)}/s, before the load generators take their share.` : '')
      + (both && Number.isFinite(by.checkin.generatorCpuMsPerOp) ? ` The load generators, which sign every check-in and verify every answer as devices do, used ${f(by.checkin.generatorCpuMsPerOp, 2)} ms per check-in on the same cores: all three together ${f(both + by.checkin.generatorCpuMsPerOp, 2)} ms, so this ${r.machine.cpus}-core machine cannot run more than about ${f((r.machine.cpus * 1000) / (both + by.checkin.generatorCpuMsPerOp))} such check-ins/s whatever the gateway does; a rate target above that needs the generators on other machines.` : ''),
    ...keepAliveNote(r).flatMap((line) => ['', line]),
    '',
    'What TLS costs per check-in, with the connection held and with a handshake per check-in, measured with 100 devices so that keep-alive holds: [fleet-ca.md](fleet-ca.md#what-mutual-tls-costs). The hot-path changes and their before/after figures: [device-api.md](device-api.md#what-the-gateway-reads-per-request-and-what-it-keeps-the-hot-path).',
    '',
    'The profile samples wall time while the gateway runs JavaScript: on a loaded machine it is descheduled most often in calls that wake another process or thread (`writev` to a loopback socket wakes a load generator; `stat` wakes the libuv thread pool), so those buckets read high there; the other buckets are the better guide to where CPU goes.',
  ].join('\n');
}
