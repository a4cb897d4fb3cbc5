#!/usr/bin/env node
// `npm run bench`: delta generation and application against Debian's bsdiff/bspatch CLI on a
// ~100 MB image pair that differs like a patch release, plus streaming a 200 MiB object
// through the artifact store. Dependency-free; uses the compiled dist/ modules (the code the
// Temporal worker runs), which `prebench` (tools/setup.mjs) builds.
//
//   npm run bench                          # ~108 MB pair of consecutive real releases (npm registry)
//   npm run bench -- --pair synthetic --size 32  # this machine's ELF binaries, "rebuilt" (any MiB >= 8)
//   npm run bench -- --json                # JSON on stdout (table and progress on stderr)
//   npm run bench -- --write-docs          # also rewrite docs/benchmarks.md
//   node bench/run.mjs --no-s3 --no-store  # skip parts; --fresh rebuilds the cached pair
//   --no-rollout / --rollout-devices N     # the rollout benchmark (bench/rollout.mjs, default 10000 devices)
//   --no-ops skips the ops delta format; --no-1g its ~1 GB generation/apply run
//
// Every heavy step runs in its own process, so each peak RSS is that step's alone:
//  - ours: generateBsdiffDelta / applyBsdiffPatch fork deltas/artifact-child.mjs, which reports
//    its own VmHWM;
//  - CLI: /usr/bin/time -v (package `time`) gives the child's maximum RSS; without it the bench
//    polls /proc/<pid>/status VmHWM every 100 ms (a lower bound);
//  - store: bench/store-stream.mjs reports its own VmHWM.
// The image pair is cached under .ota/bench/ (keyed by the generator's source; synthetic: size and seed).
// @ts-check
import { spawn, fork, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { buildImagePair } from '../test/support/image-pairs.mjs';
import { buildReleasePair, RELEASES } from './release-pair.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MiB = 1024 * 1024;

// ---------- arguments ----------
const argv = process.argv.slice(2);
function flag(name) {
  return argv.includes(name);
}
function option(name, fallback) {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const value = argv[i + 1];
  if (value === undefined || value.startsWith('--')) throw new Error(`${name} needs a value`);
  return value;
}
if (flag('--help') || flag('-h')) {
  console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 12).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}
const known = new Set(['--size', '--store-size', '--json', '--write-docs', '--no-s3', '--no-store', '--no-cli', '--fresh', '--seed', '--no-ops', '--no-1g', '--no-rollout', '--rollout-devices', '--pair']);
for (const [i, a] of argv.entries()) {
  if (a.startsWith('--') && !known.has(a)) throw new Error(`unknown option ${a} (see --help)`);
  if (!a.startsWith('--') && !['--size', '--store-size', '--seed', '--rollout-devices', '--pair'].includes(argv[i - 1])) throw new Error(`unexpected argument ${a}`);
}
const sizeMiB = Number(option('--size', '100'));
const storeMiB = Number(option('--store-size', '200'));
const seed = Number(option('--seed', '100'));
const pairKind = option('--pair', 'releases');
if (!['releases', 'synthetic'].includes(pairKind)) throw new Error('--pair must be releases or synthetic');
if (!(sizeMiB >= 8)) throw new Error('--size must be a number of MiB >= 8');
if (!(storeMiB >= 1)) throw new Error('--store-size must be a number of MiB >= 1');
const wantJson = flag('--json');
const writeDocs = flag('--write-docs');
const REBUILT_FRACTION = 0.2;

// ---------- output ----------
const out = wantJson ? process.stderr : process.stdout;
const tty = process.stderr.isTTY;
let statusShown = false;
let lastPlainStatus = 0;
/** One live status line on a TTY; otherwise a line at most every 10 s. */
function status(text, force = false) {
  if (tty) {
    process.stderr.write(`\r\x1b[K[bench] ${text}`);
    statusShown = true;
  } else if (force || Date.now() - lastPlainStatus >= 10_000) {
    lastPlainStatus = Date.now();
    process.stderr.write(`[bench] ${text}\n`);
  }
}
function log(text) {
  if (statusShown) process.stderr.write('\r\x1b[K');
  statusShown = false;
  process.stderr.write(`[bench] ${text}\n`);
}

const mb = (n) => (n / 1e6).toFixed(n < 1e7 ? 2 : 1);
const rssMb = (n) => (Number.isFinite(n) ? `${Math.round(n / 1e6)} MB` : '–');
const sec = (ms) => `${(ms / 1000).toFixed(1)} s`;
const cpuS = (ms) => (Number.isFinite(ms) ? sec(ms) : '–');
const pct = (part, whole) => `${((part / whole) * 100).toFixed(part / whole < 0.1 ? 2 : 1)}%`;

function procStatus(pid, field) {
  try {
    const kb = new RegExp(`^${field}:\\s*(\\d+)\\s*kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/** user + system CPU time of a process so far (readable until it is reaped), in ms. */
function cpuMsOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime + stime, plus cutime + cstime: children it has reaped (ota-bsdiff runs in one).
    return ((Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / CLK_TCK) * 1000;
  } catch {
    return undefined;
  }
}

/** Highest CPU time seen per pid (sampled on every progress event of our children). */
const cpuSeen = new Map();
function sampleCpu(pid) {
  const ms = cpuMsOf(pid);
  if (ms !== undefined) cpuSeen.set(pid, Math.max(cpuSeen.get(pid) ?? 0, ms));
}

function sha256File(path) {
  return new Promise((resolvePromise, reject) => {
    const hash = createHash('sha256');
    createReadStream(path, { highWaterMark: MiB })
      .on('data', (c) => hash.update(c))
      .on('error', reject)
      .on('end', () => resolvePromise(hash.digest('hex')));
  });
}

function which(name) {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

function machine() {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const osName = existsSync('/etc/os-release') ? /^PRETTY_NAME="?([^"\n]*)/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] : undefined;
  const nproc = spawnSync('nproc', { encoding: 'utf8' }).stdout?.trim();
  const dpkgVersion = (pkg) => spawnSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8' }).stdout?.trim() || undefined;
  return {
    nproc: Number(nproc) || cpus().length,
    cpu: model.trim(),
    ramGB: Math.round(totalmem() / 1e9),
    node: process.version,
    os: osName ?? process.platform,
    kernel: spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout?.trim(),
    bsdiffPackage: dpkgVersion('bsdiff'),
    loadAvgAtStart: loadavg().map((n) => Number(n.toFixed(2))),
    // VmHWM of `node -e ''`: what any Node.js process costs before doing anything.
    nodeBaselineRssBytes: Number(/VmHWM:\s*(\d+)/.exec(spawnSync(process.execPath, ['-e', "process.stdout.write(require('fs').readFileSync('/proc/self/status','utf8'))"], { encoding: 'utf8' }).stdout ?? '')?.[1]) * 1024 || undefined,
  };
}

// ---------- compiled modules ----------
const distDeltas = join(root, 'dist', 'deltas', 'index.js');
if (!existsSync(distDeltas) || !existsSync(join(root, 'dist', 'stores', 'open-store.js'))) {
  console.error('dist/ is missing: run `node tools/setup.mjs` (npm run bench does it via prebench) or `npm run build`');
  process.exit(1);
}
const { applyBsdiffPatch, compressFullImage, generateBsdiffDelta } = await import(new URL(`file://${distDeltas}`).href);
const { findNativeApplier } = await import(new URL(`file://${join(root, 'dist', 'deltas', 'ops', 'index.js')}`).href);

// ---------- 1. image pair (cached) ----------
async function imagePair() {
  const generator = pairKind === 'releases' ? 'bench/release-pair.mjs' : 'test/support/image-pairs.mjs';
  const generatorHash = createHash('sha256').update(readFileSync(join(root, generator))).digest('hex').slice(0, 12);
  const dir = join(root, '.ota', 'bench', pairKind === 'releases' ? `releases-${generatorHash}` : `pair-${sizeMiB}MiB-seed${seed}-${generatorHash}`);
  const metaPath = join(dir, 'meta.json');
  if (flag('--fresh')) rmSync(dir, { recursive: true, force: true });
  if (existsSync(metaPath)) {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
    const ok = ['old', 'new'].every((w) => existsSync(join(dir, `${w}.img`)) && statSync(join(dir, `${w}.img`)).size === meta[`${w}Bytes`]);
    if (ok) {
      log(`image pair: reusing ${relative(root, dir)} (${mb(meta.oldBytes)} → ${mb(meta.newBytes)} MB; --fresh rebuilds it)`);
      return { ...meta, oldPath: join(dir, 'old.img'), newPath: join(dir, 'new.img'), dir, cached: true };
    }
  }
  const temp = `${dir}.partial-${process.pid}`;
  rmSync(temp, { recursive: true, force: true });
  mkdirSync(temp, { recursive: true });
  const started = performance.now();
  let info;
  if (pairKind === 'releases') {
    status(`image pair: fetching ${RELEASES.length * 2} release tarballs from the npm registry (cached in .ota/bench/npm-packs)...`, true);
    const built = buildReleasePair({ oldPath: join(temp, 'old.img'), newPath: join(temp, 'new.img'), cacheDir: join(root, '.ota', 'bench', 'npm-packs') });
    info = { ...built, sizeMiB: Math.round(built.newBytes / MiB) };
  } else {
    status(`image pair: building ${sizeMiB} MiB from this machine's ELF binaries...`, true);
    info = { kind: 'synthetic', ...buildImagePair({ oldPath: join(temp, 'old.img'), newPath: join(temp, 'new.img'), targetBytes: sizeMiB * MiB, seed, rebuiltFraction: REBUILT_FRACTION }), sizeMiB, seed, rebuiltFraction: REBUILT_FRACTION };
  }
  status('image pair: hashing...', true);
  const meta = {
    ...info,
    generator: `${generator}@${generatorHash}`,
    oldSha256: await sha256File(join(temp, 'old.img')),
    newSha256: await sha256File(join(temp, 'new.img')),
  };
  writeFileSync(join(temp, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(temp, dir);
  log(`image pair: built in ${sec(performance.now() - started)} → ${relative(root, dir)} (${mb(info.oldBytes)} → ${mb(info.newBytes)} MB, ${pairSummary(info)})`);
  return { ...meta, oldPath: join(dir, 'old.img'), newPath: join(dir, 'new.img'), dir, cached: false };
}

function pairSummary(pair) {
  if (pair.kind === 'releases') return pair.binaries.map((b) => b.name).join('; ');
  return `${pair.binaries} ELF binaries from this machine, ${pair.rebuilt} "rebuilt", 1 added mid-image, 1 removed`;
}

// ---------- CLI runs with peak RSS ----------
const timeBin = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

/** The pid doing the work: /usr/bin/time's child when wrapped, else the spawned process. */
function workerPid(pid) {
  if (!timeBin) return pid;
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)[0]) || undefined;
  } catch {
    return undefined;
  }
}

/** Runs a CLI, showing elapsed time and RSS; returns wall time and peak RSS (time -v, else polled VmHWM). */
function runCli(label, cmd, args) {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = timeBin ? spawn(timeBin, ['-v', cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'] }) : spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let polledPeak = 0;
    let polledCpu = 0;
    child.stderr.setEncoding('utf8').on('data', (t) => (stderr += t));
    const poll = setInterval(() => {
      const pid = workerPid(child.pid);
      const hwm = pid && procStatus(pid, 'VmHWM');
      if (hwm) polledPeak = Math.max(polledPeak, hwm);
      const cpu = pid && cpuMsOf(pid);
      if (cpu) polledCpu = Math.max(polledCpu, cpu);
      const rss = pid && procStatus(pid, 'VmRSS');
      status(`${label}: ${sec(performance.now() - started)}${rss ? `, RSS ${rssMb(rss)}` : ''}`);
    }, 100);
    child.on('error', (e) => {
      clearInterval(poll);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearInterval(poll);
      const wallMs = performance.now() - started;
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${stderr.trim().slice(-2000)}`));
      const maxKb = /Maximum resident set size \(kbytes\):\s*(\d+)/.exec(stderr)?.[1];
      const user = /User time \(seconds\):\s*([\d.]+)/.exec(stderr)?.[1];
      const system = /System time \(seconds\):\s*([\d.]+)/.exec(stderr)?.[1];
      resolvePromise({
        wallMs,
        cpuMs: user !== undefined && system !== undefined ? (Number(user) + Number(system)) * 1000 : polledCpu || NaN,
        peakRssBytes: maxKb ? Number(maxKb) * 1024 : polledPeak || NaN,
        peakRssMethod: maxKb ? '/usr/bin/time -v' : 'polled VmHWM (lower bound)',
      });
    });
  });
}

/** Status line for our child jobs: phase, percent, elapsed, live RSS of the child. */
function ourProgress(label, started) {
  return (p) => {
    sampleCpu(p.pid);
    const rss = procStatus(p.pid, 'VmRSS');
    const percent = p.bytesTotal ? ` ${Math.floor((p.bytesDone / p.bytesTotal) * 100)}%` : '';
    status(`${label}: ${p.phase}${percent}, ${sec(performance.now() - started)}${rss ? `, RSS ${rssMb(rss)}` : ''}`);
  };
}

// ---------- 2b. ops delta format ----------
/** Runs bench/ops-child.mjs under /usr/bin/time (CPU includes the workers it reaps); returns its result too. */
async function opsChild(label, command, a, b, out, work) {
  const resultPath = join(work, `ops-${command}-${process.pid}.json`);
  const run = await runCli(label, process.execPath, [join(root, 'bench', 'ops-child.mjs'), command, a, b, out, resultPath]);
  const result = JSON.parse(readFileSync(resultPath, 'utf8'));
  rmSync(resultPath, { force: true });
  return { run, result };
}

/** Generate + apply with the ops format; every output is checked against the target sha256. */
async function opsRound(label, oldPath, newPath, newSha256, work) {
  const patch = join(work, `${label}.ops`);
  const gen = await opsChild(`edge-ota ops generate (${label})`, 'generate', oldPath, newPath, patch, work);
  const g = gen.result;
  log(`edge-ota ops (${label}): ${mb(g.length)} MB patch, ${g.opCount} ops, ${sec(gen.run.wallMs)} wall, CPU ${cpuS(gen.run.cpuMs)}, peak RSS main ${rssMb(g.peakRssBytes.main)} + workers ${g.peakRssBytes.workers.map(rssMb).join(' + ')}`);
  const out = join(work, `${label}.ops.out`);
  const app = await opsChild(`edge-ota ops apply (${label})`, 'apply', oldPath, patch, out, work);
  const hashStarted = performance.now();
  const outSha = await sha256File(out);
  const sha256Ms = performance.now() - hashStarted;
  rmSync(out, { force: true });
  log(`edge-ota ops apply (${label}): ${sec(app.run.wallMs)}, peak RSS ${rssMb(app.result.peakRssBytes)}, sha256 ${outSha === newSha256 ? 'matches' : 'MISMATCH'}`);
  const native = await nativeApply(label, oldPath, patch, work, newSha256, 'extent');
  const nativeFull = await nativeApply(label, oldPath, patch, work, newSha256, 'full');
  rmSync(patch, { force: true });
  return {
    generate: {
      wallMs: gen.run.wallMs,
      cpuMs: gen.run.cpuMs,
      durationMs: g.durationMs,
      phaseMs: g.phaseMs,
      workers: g.workers,
      peakRssBytes: g.peakRssBytes.total,
      mainPeakRssBytes: g.peakRssBytes.main,
      workerPeakRssBytes: g.peakRssBytes.workers,
      largestProcessPeakRssBytes: gen.run.peakRssBytes,
      patchBytes: g.length,
      patchSha256: g.sha256,
      opCount: g.opCount,
      ops: g.ops,
      tarAligned: g.tarAligned,
    },
    apply: {
      wallMs: app.run.wallMs,
      cpuMs: app.run.cpuMs,
      durationMs: app.result.durationMs,
      sourceCheckMs: app.result.sourceCheckMs,
      peakRssBytes: app.result.peakRssBytes,
      sha256Ms,
      targetSha256Ok: outSha === newSha256 && app.result.sha256 === newSha256,
    },
    applyNative: native,
    applyNativeFull: nativeFull,
  };
}

/**
 * The device's applier, native/ota-apply-ops (built by setup), under /usr/bin/time -v. sourceCheck
 * 'extent' is how the device runs it (the base was verified against the delta's fromSha256 while it
 * was staged; every op's sha256 and the patch digest are still checked); 'full' hashes the whole
 * source first.
 */
async function nativeApply(label, oldPath, patch, work, newSha256, sourceCheck) {
  const tool = findNativeApplier();
  if (!tool) {
    log('WARNING: ota-apply-ops is not built (node tools/setup.mjs builds it with Go); its rows are skipped');
    return undefined;
  }
  const out = join(work, `${label}.ops.native.out`);
  const run = await runCli(`ota-apply-ops --source-check ${sourceCheck} (${label})`, tool, ['--source', oldPath, '--patch', patch, '--out', out, '--source-check', sourceCheck]);
  const outSha = await sha256File(out);
  rmSync(out, { force: true });
  log(`ota-apply-ops --source-check ${sourceCheck} (${label}): ${sec(run.wallMs)}, CPU ${cpuS(run.cpuMs)}, peak RSS ${rssMb(run.peakRssBytes)}, sha256 ${outSha === newSha256 ? 'matches' : 'MISMATCH'}`);
  return { wallMs: run.wallMs, cpuMs: run.cpuMs, peakRssBytes: run.peakRssBytes, peakRssMethod: run.peakRssMethod, targetSha256Ok: outSha === newSha256 };
}

/** ~1 GB pair: the 100 MiB pair repeated (real ELF content, the same kind of change every 100 MB). */
async function bigPair(pair, times) {
  const dir = join(pair.dir, `x${times}`);
  const meta = join(dir, 'meta.json');
  if (existsSync(meta)) return { ...JSON.parse(readFileSync(meta, 'utf8')), oldPath: join(dir, 'old.img'), newPath: join(dir, 'new.img') };
  mkdirSync(dir, { recursive: true });
  status(`1 GB pair: writing ${times} × the ${sizeMiB} MiB pair...`, true);
  const hashes = {};
  for (const w of ['old', 'new']) {
    const part = readFileSync(w === 'old' ? pair.oldPath : pair.newPath);
    const hash = createHash('sha256');
    const temp = join(dir, `${w}.img.partial`);
    writeFileSync(temp, '');
    for (let i = 0; i < times; i++) {
      writeFileSync(temp, part, { flag: 'a' });
      hash.update(part);
    }
    renameSync(temp, join(dir, `${w}.img`));
    hashes[w] = { bytes: part.length * times, sha256: hash.digest('hex') };
  }
  const info = { times, oldBytes: hashes.old.bytes, newBytes: hashes.new.bytes, oldSha256: hashes.old.sha256, newSha256: hashes.new.sha256 };
  writeFileSync(meta, JSON.stringify(info, null, 2));
  return { ...info, oldPath: join(dir, 'old.img'), newPath: join(dir, 'new.img') };
}

async function opsBench(pair, work) {
  const results = { pair100: await opsRound(`${sizeMiB}MiB`, pair.oldPath, pair.newPath, pair.newSha256, work) };
  if (!flag('--no-1g')) {
    const big = await bigPair(pair, 10);
    results.big = { pair: { times: big.times, oldBytes: big.oldBytes, newBytes: big.newBytes }, ...(await opsRound(`${Math.round(big.newBytes / 1e6)}MB`, big.oldPath, big.newPath, big.newSha256, work)) };
  }
  return results;
}

// ---------- 2. deltas ----------
async function deltaBench(pair, work) {
  const results = { pair: { ...pair }, ours: {}, cli: {}, interop: {} };
  delete results.pair.dir;
  const bsdiffBin = which('bsdiff') ?? (existsSync('/usr/bin/bsdiff') ? '/usr/bin/bsdiff' : undefined);
  const bspatchBin = which('bspatch') ?? (existsSync('/usr/bin/bspatch') ? '/usr/bin/bspatch' : undefined);
  const cliAvailable = !flag('--no-cli') && bsdiffBin && bspatchBin;
  if (!cliAvailable && !flag('--no-cli')) log('WARNING: bsdiff/bspatch CLI not found: install it with `apt-get install -y bsdiff` (CI .ci/run does); CLI rows are skipped');

  // Context: the compressed full image the delta competes with.
  let started = performance.now();
  const gz = await compressFullImage({ imagePath: pair.newPath, outPath: join(work, 'new.img.gz'), compression: 'gzip', onProgress: ourProgress('gzip -9 full image', started) });
  results.fullImage = { compression: 'gzip', level: 9, bytes: gz.compressedLength, durationMs: gz.durationMs, peakRssBytes: gz.peakRssBytes };
  rmSync(gz.path, { force: true });
  log(`gzip -9 full image: ${mb(gz.compressedLength)} MB in ${sec(gz.durationMs)}`);

  // Ours: the release pipeline's step (diff child, then a verify apply child).
  const phaseStarts = {};
  const pids = {};
  started = performance.now();
  const show = ourProgress('edge-ota generateBsdiffDelta', started);
  const ourPatch = join(work, 'ours.bsdiff');
  const delta = await generateBsdiffDelta({
    oldImagePath: pair.oldPath,
    newImagePath: pair.newPath,
    outPath: ourPatch,
    fullCompressedLength: gz.compressedLength,
    oldSha256: pair.oldSha256,
    newSha256: pair.newSha256,
    scratchDir: work,
    onProgress: (p) => {
      phaseStarts[p.phase] ??= performance.now();
      pids[p.phase === 'verifying' ? 'verify' : 'diff'] ??= p.pid;
      show(p);
    },
  });
  const wallMs = performance.now() - started;
  if (delta.status !== 'generated') throw new Error(`our delta was skipped: ${delta.reason}`);
  results.ours.generate = {
    wallMs,
    diffChildMs: delta.diff.durationMs,
    // bsdiff proper, from progress events: first 'diffing' to first 'hashing' of the patch.
    bsdiffMs: phaseStarts.diffing && phaseStarts.hashing ? phaseStarts.hashing - phaseStarts.diffing : undefined,
    diffPeakRssBytes: delta.diff.peakRssBytes,
    // user + system CPU of the diff child, sampled at its progress events (the last one comes just before it exits).
    diffCpuMs: cpuSeen.get(pids.diff),
    verifyMs: delta.verify.durationMs,
    verifyPeakRssBytes: delta.verify.peakRssBytes,
    patchBytes: delta.length,
    patchSha256: delta.sha256,
    targetSha256Ok: delta.toSha256 === pair.newSha256, // and the verify apply matched it, or it would have thrown
  };
  log(`edge-ota generateBsdiffDelta: ${mb(delta.length)} MB patch, ${sec(wallMs)} (diff child ${sec(delta.diff.durationMs)}, peak RSS ${rssMb(delta.diff.peakRssBytes)}; verify ${sec(delta.verify.durationMs)})`);

  started = performance.now();
  const ourOut = join(work, 'ours.out');
  let applyPid;
  const showApply = ourProgress('edge-ota applyBsdiffPatch', started);
  const applied = await applyBsdiffPatch(pair.oldPath, ourPatch, ourOut, {
    expectedSha256: pair.newSha256,
    onProgress: (p) => {
      applyPid ??= p.pid;
      showApply(p);
    },
  });
  results.ours.apply = { wallMs: performance.now() - started, cpuMs: cpuSeen.get(applyPid), childMs: applied.durationMs, bspatchMs: applied.patchMs, peakRssBytes: applied.peakRssBytes, targetSha256Ok: applied.sha256 === pair.newSha256 };
  rmSync(ourOut, { force: true });
  log(`edge-ota applyBsdiffPatch: ${sec(results.ours.apply.wallMs)}, peak RSS ${rssMb(applied.peakRssBytes)}, sha256 ${applied.sha256 === pair.newSha256 ? 'matches' : 'MISMATCH'}`);

  if (cliAvailable) {
    results.cli.bsdiffPath = bsdiffBin;
    const cliPatch = join(work, 'cli.bsdiff');
    const gen = await runCli(`Debian bsdiff`, bsdiffBin, [pair.oldPath, pair.newPath, cliPatch]);
    const patchBytes = statSync(cliPatch).size;
    const patchSha256 = await sha256File(cliPatch);
    results.cli.generate = { ...gen, patchBytes, patchSha256 };
    log(`Debian bsdiff: ${mb(patchBytes)} MB patch, ${sec(gen.wallMs)}, peak RSS ${rssMb(gen.peakRssBytes)}`);

    const cliOut = join(work, 'cli.out');
    const app = await runCli('Debian bspatch', bspatchBin, [pair.oldPath, cliOut, cliPatch]);
    const hashStarted = performance.now();
    const outSha = await sha256File(cliOut);
    results.cli.apply = { ...app, sha256Ms: performance.now() - hashStarted, targetSha256Ok: outSha === pair.newSha256 };
    rmSync(cliOut, { force: true });
    log(`Debian bspatch: ${sec(app.wallMs)} (+ sha256 ${sec(results.cli.apply.sha256Ms)}), peak RSS ${rssMb(app.peakRssBytes)}, sha256 ${outSha === pair.newSha256 ? 'matches' : 'MISMATCH'}`);

    // Interop: both write BSDIFF40; each side must apply the other's patch.
    status('interop: Debian bspatch on our patch...', true);
    const x1 = join(work, 'x1.out');
    await runCli('interop: Debian bspatch on our patch', bspatchBin, [pair.oldPath, x1, ourPatch]);
    results.interop.cliAppliesOurs = (await sha256File(x1)) === pair.newSha256;
    rmSync(x1, { force: true });
    status('interop: applyBsdiffPatch on the CLI patch...', true);
    const x2 = join(work, 'x2.out');
    const back = await applyBsdiffPatch(pair.oldPath, cliPatch, x2, {}).catch((e) => ({ sha256: `error: ${e.message}` }));
    results.interop.oursAppliesCli = back.sha256 === pair.newSha256;
    results.interop.identicalPatches = patchSha256 === delta.sha256;
    rmSync(x2, { force: true });
    log(`interop: bspatch(our patch) ${results.interop.cliAppliesOurs ? 'ok' : 'FAILED'}, applyBsdiffPatch(CLI patch) ${results.interop.oursAppliesCli ? 'ok' : 'FAILED'}, patches ${results.interop.identicalPatches ? 'byte-identical' : 'differ'}`);
    rmSync(cliPatch, { force: true });
  }
  rmSync(ourPatch, { force: true });
  return results;
}

// ---------- 3. store streaming ----------
function freePort() {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePromise(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function startVersityGw(dataDir) {
  const binary = which('versitygw') ?? (existsSync(join(root, '.tools', 'bin', 'versitygw')) ? join(root, '.tools', 'bin', 'versitygw') : undefined);
  if (!binary) return undefined;
  const creds = { accessKeyId: 'otabenchaccess', secretAccessKey: 'otabenchsecret-0123456789' };
  mkdirSync(dataDir, { recursive: true });
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawn(binary, ['--access', creds.accessKeyId, '--secret', creds.secretAccessKey, '--port', `127.0.0.1:${port}`, '--quiet', 'posix', dataDir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (t) => (stderr = (stderr + t).slice(-4000)));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`versitygw exited with ${child.exitCode}: ${stderr}`);
    try {
      await fetch(endpoint, { signal: AbortSignal.timeout(1000) });
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`versitygw did not answer at ${endpoint}: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    binary,
    endpoint,
    region: 'us-east-1',
    ...creds,
    pid: child.pid,
    stop: () =>
      new Promise((resolvePromise) => {
        if (child.exitCode !== null) return resolvePromise(undefined);
        const force = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(force);
          resolvePromise(undefined);
        });
        child.kill('SIGTERM');
      }),
  };
}

function storeChild(label, job) {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = fork(join(root, 'bench', 'store-stream.mjs'), [], { cwd: root, execArgv: [], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    let outcome;
    child.stderr?.setEncoding('utf8').on('data', (t) => (stderr = (stderr + t).slice(-4000)));
    child.on('message', (m) => {
      if (m.type === 'progress') {
        const rss = procStatus(child.pid, 'VmRSS');
        status(`${label}: ${m.phase} ${Math.floor((m.bytesDone / m.bytesTotal) * 100)}%, ${sec(performance.now() - started)}${rss ? `, RSS ${rssMb(rss)}` : ''}`);
      } else outcome = m;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (outcome?.type === 'result') return resolvePromise(outcome.result);
      reject(new Error(`${label}: ${outcome?.message ?? `child exited with ${code}: ${stderr}`}`));
    });
    child.send({ ...job, bytes: storeMiB * MiB });
  });
}

async function storeBench(work) {
  const rows = [];
  const localDir = join(work, 'store-local');
  mkdirSync(localDir, { recursive: true });
  const local = await storeChild(`local store, ${storeMiB} MiB`, { backend: 'local', dir: localDir });
  rows.push({ backend: 'local directory', ...local });
  rmSync(localDir, { recursive: true, force: true });
  log(`local store ${storeMiB} MiB: up ${sec(local.uploadMs)}, down ${sec(local.downloadMs)}, peak RSS ${rssMb(local.peakRssBytes)} (baseline ${rssMb(local.baselineRssBytes)})`);

  if (flag('--no-s3')) return rows;
  const gwDir = join(work, 'versitygw');
  let gw;
  try {
    gw = await startVersityGw(gwDir);
  } catch (e) {
    log(`WARNING: versitygw failed to start, S3 row skipped: ${e.message}`);
    return rows;
  }
  if (!gw) {
    log('versitygw not found (PATH or .tools/bin; `node tools/setup.mjs --for test` installs it): S3 row skipped');
    return rows;
  }
  try {
    const s3 = await storeChild(`S3 store (versitygw), ${storeMiB} MiB`, {
      backend: 's3',
      endpoint: gw.endpoint,
      region: gw.region,
      bucket: `ota-bench-${process.pid}`,
      accessKeyId: gw.accessKeyId,
      secretAccessKey: gw.secretAccessKey,
    });
    const versitygwPeak = procStatus(gw.pid, 'VmHWM');
    rows.push({ backend: 'S3 (versitygw v1.8.0 on loopback, 8 MiB parts)', ...s3, serverPeakRssBytes: versitygwPeak });
    log(`S3 store ${storeMiB} MiB: up ${sec(s3.uploadMs)}, down ${sec(s3.downloadMs)}, peak RSS ${rssMb(s3.peakRssBytes)} (baseline ${rssMb(s3.baselineRssBytes)})`);
  } finally {
    await gw.stop();
    rmSync(gwDir, { recursive: true, force: true });
  }
  return rows;
}

// ---------- 4. report ----------
/** The ops format against whole-image bsdiff and the CLI, and the issue's targets, met or not. */
function opsTables(r) {
  const o = r.deltas.ops;
  if (!o) return [];
  const p = o.pair100;
  const c = r.deltas.cli;
  const ours = r.deltas.ours;
  const full = r.deltas.fullImage.bytes;
  const largest = (g) => `${rssMb(g.peakRssBytes)} (main ${rssMb(g.mainPeakRssBytes)} + ${g.workerPeakRssBytes.length} workers ${g.workerPeakRssBytes.map(rssMb).join(' / ')}; largest process ${rssMb(g.largestProcessPeakRssBytes)})`;
  const kinds = (g) => Object.entries(g.ops).filter(([, v]) => v.count).map(([k, v]) => `${k} ${v.count}`).join(', ');
  const lines = [
    '',
    `**Ops format** (\`generateOpsDelta\` / \`applyOpsDelta\`, compiled \`dist/deltas/ops\`, each step in its own process via \`bench/ops-child.mjs\`; CPU time from \`/usr/bin/time -v\`, which includes the worker processes):`,
    '',
    '| ops delta | wall time | CPU time (user + sys) | peak RSS: sum of VmHWM of main + workers (upper bound of the simultaneous peak) | patch size | patch / gzip full image | ops | output reproduces target sha256 |',
    '|---|---|---|---|---|---|---|---|',
    `| generate, ${r.deltas.pair.sizeMiB} MiB pair, ${p.generate.workers} workers | ${sec(p.generate.wallMs)} | ${cpuS(p.generate.cpuMs)} | ${largest(p.generate)} | ${mb(p.generate.patchBytes)} MB | ${pct(p.generate.patchBytes, full)} | ${p.generate.opCount} (${kinds(p.generate)}) | ${p.apply.targetSha256Ok ? 'yes (applied back)' : 'NO'} |`,
  ];
  if (o.big) {
    lines.push(`| generate, ${mb(o.big.pair.newBytes)} MB pair (${o.big.pair.times} × the ${r.deltas.pair.sizeMiB} MiB pair), ${o.big.generate.workers} workers | ${sec(o.big.generate.wallMs)} | ${cpuS(o.big.generate.cpuMs)} | ${largest(o.big.generate)} | ${mb(o.big.generate.patchBytes)} MB | – | ${o.big.generate.opCount} | ${o.big.apply.targetSha256Ok ? 'yes (applied back)' : 'NO'} |`);
  }
  lines.push(
    '',
    '| ops apply (patch read once as a stream, source by extent, target written in order, per-op sha256) | wall time | CPU time (user + sys) | of which: sha256 of the whole source up front | peak RSS (VmHWM) | output reproduces target sha256 |',
    '|---|---|---|---|---|---|',
    `| ${r.deltas.pair.sizeMiB} MiB pair | ${sec(p.apply.wallMs)} | ${cpuS(p.apply.cpuMs)} | ${sec(p.apply.sourceCheckMs)} | ${rssMb(p.apply.peakRssBytes)} | ${p.apply.targetSha256Ok ? 'yes' : 'NO'} |`,
  );
  if (o.big) lines.push(`| ${mb(o.big.pair.newBytes)} MB pair | ${sec(o.big.apply.wallMs)} | ${cpuS(o.big.apply.cpuMs)} | ${sec(o.big.apply.sourceCheckMs)} | ${rssMb(o.big.apply.peakRssBytes)} | ${o.big.apply.targetSha256Ok ? 'yes' : 'NO'} |`);
  const nativeRow = (name, n) => (n ? `| ${name} | ${sec(n.wallMs)} | ${cpuS(n.cpuMs)} | ${rssMb(n.peakRssBytes)} (${n.peakRssMethod}) | ${n.targetSha256Ok ? 'yes' : 'NO'} |` : `| ${name} | not run (ota-apply-ops not built) | | | |`);
  lines.push(
    '',
    '| ops apply, device applier `ota-apply-ops` (native/ota-apply-ops, Go; same checks and streaming bspatch; `extent`: as the device runs it, the base verified while staging; `full`: sha256 of the whole source first) | wall time | CPU time (user + sys) | peak RSS | output reproduces target sha256 |',
    '|---|---|---|---|---|',
    nativeRow(`${r.deltas.pair.sizeMiB} MiB pair, extent`, p.applyNative),
    nativeRow(`${r.deltas.pair.sizeMiB} MiB pair, full`, p.applyNativeFull),
  );
  if (o.big) lines.push(nativeRow(`${mb(o.big.pair.newBytes)} MB pair, extent`, o.big.applyNative), nativeRow(`${mb(o.big.pair.newBytes)} MB pair, full`, o.big.applyNativeFull));
  const yes = (ok) => (ok ? 'met' : '**not met**');
  const bsdiffBytes = ours.generate.patchBytes;
  const rows = [
    ['patch size ≤ whole-image bsdiff', `${mb(p.generate.patchBytes)} MB vs ${mb(bsdiffBytes)} MB (${(p.generate.patchBytes / bsdiffBytes).toFixed(2)} ×)`, yes(p.generate.patchBytes <= bsdiffBytes)],
  ];
  if (c.generate) {
    rows.push([
      'generation ≥ 5 × faster than the `bsdiff` CLI (wall time: the work is spread over the cores)',
      `${sec(p.generate.wallMs)} vs ${sec(c.generate.wallMs)} wall (${(c.generate.wallMs / p.generate.wallMs).toFixed(1)} ×); CPU ${cpuS(p.generate.cpuMs)} vs ${cpuS(c.generate.cpuMs)} (${(c.generate.cpuMs / p.generate.cpuMs).toFixed(1)} ×)`,
      yes(c.generate.wallMs / p.generate.wallMs >= 5),
    ]);
  }
  rows.push(['generation peak memory < 512 MB (sum of processes)', `${rssMb(p.generate.peakRssBytes)}${o.big ? `; ~1 GB image: ${rssMb(o.big.generate.peakRssBytes)}` : ''}`, yes(p.generate.peakRssBytes < 512e6 && (!o.big || o.big.generate.peakRssBytes < 512e6))]);
  const n = p.applyNative;
  const nBig = o.big?.applyNative;
  if (n) {
    rows.push([
      'apply peak RSS < 32 MB (device applier `ota-apply-ops`)',
      `${rssMb(Math.max(n.peakRssBytes, p.applyNativeFull?.peakRssBytes ?? 0))}${nBig ? `; ~1 GB image: ${rssMb(Math.max(nBig.peakRssBytes, o.big.applyNativeFull?.peakRssBytes ?? 0))}` : ''} (larger of the two source-check modes; the Node.js applier: ${rssMb(p.apply.peakRssBytes)}; the Node.js runtime alone: ${rssMb(r.machine.nodeBaselineRssBytes)})`,
      yes(Math.max(n.peakRssBytes, p.applyNativeFull?.peakRssBytes ?? 0) < 32e6 && (!o.big || (nBig && Math.max(nBig.peakRssBytes, o.big.applyNativeFull?.peakRssBytes ?? 0) < 32e6))),
    ]);
    if (c.apply) {
      const f = p.applyNativeFull;
      rows.push([
        'apply time ≤ `bspatch`',
        `${sec(n.wallMs)} as the device runs it${f ? `, ${sec(f.wallMs)} with a sha256 of the whole source first` : ''}, vs ${sec(c.apply.wallMs)} (ours checks every op's sha256, the patch digest, and fsyncs at checkpoints; bspatch checks nothing)`,
        yes(n.wallMs <= c.apply.wallMs),
      ]);
    }
  } else rows.push(['apply peak RSS < 32 MB', `not measured: ota-apply-ops not built (the Node.js applier: ${rssMb(p.apply.peakRssBytes)})`, '**not met**']);
  lines.push('', '| target (issue 7) | measured | |', '|---|---|---|', ...rows.map((row) => `| ${row.join(' | ')} |`));
  return lines;
}

function tables(r) {
  const lines = [];
  const p = r.deltas.pair;
  const o = r.deltas.ours;
  const c = r.deltas.cli;
  const full = r.deltas.fullImage.bytes;
  lines.push(
    `Image pair: ${mb(p.oldBytes)} MB → ${mb(p.newBytes)} MB (${pairSummary(p)}); gzip -9 of the new image: ${mb(full)} MB.`,
    '',
    '| delta generation | wall time | CPU time (user + sys) | peak RSS | patch size | patch / gzip full image | output reproduces target sha256 |',
    '|---|---|---|---|---|---|---|',
    `| edge-ota \`generateBsdiffDelta\`, diff child (sha256 of inputs + bsdiff + sha256 of patch) | ${sec(o.generate.diffChildMs)}${o.generate.bsdiffMs ? ` (bsdiff ${sec(o.generate.bsdiffMs)})` : ''} | ${cpuS(o.generate.diffCpuMs)} | ${rssMb(o.generate.diffPeakRssBytes)} | ${mb(o.generate.patchBytes)} MB | ${pct(o.generate.patchBytes, full)} | – |`,
    `| edge-ota \`generateBsdiffDelta\`, whole call (diff child + verify-apply child) | ${sec(o.generate.wallMs)} | | ${rssMb(Math.max(o.generate.diffPeakRssBytes, o.generate.verifyPeakRssBytes))} | ${mb(o.generate.patchBytes)} MB | ${pct(o.generate.patchBytes, full)} | ${o.generate.targetSha256Ok ? 'yes (verified before publishing)' : 'NO'} |`,
  );
  if (c.generate) {
    lines.push(
      `| Debian \`bsdiff\` ${r.machine.bsdiffPackage ?? ''} CLI | ${sec(c.generate.wallMs)} | ${cpuS(c.generate.cpuMs)} | ${rssMb(c.generate.peakRssBytes)} | ${mb(c.generate.patchBytes)} MB | ${pct(c.generate.patchBytes, full)} | ${c.apply.targetSha256Ok ? 'yes (with bspatch)' : 'NO'} |`,
    );
  } else lines.push('| Debian `bsdiff` CLI | not run (not installed) | | | | | |');
  lines.push(
    '',
    '| patch application | wall time | CPU time (user + sys) | peak RSS | output reproduces target sha256 |',
    '|---|---|---|---|---|',
    `| edge-ota \`applyBsdiffPatch\` (child: bspatch + sha256 of output) | ${sec(o.apply.wallMs)} (bspatch ${sec(o.apply.bspatchMs)}) | ${cpuS(o.apply.cpuMs)} | ${rssMb(o.apply.peakRssBytes)} | ${o.apply.targetSha256Ok ? 'yes' : 'NO'} |`,
  );
  if (c.apply) lines.push(`| Debian \`bspatch\` CLI (+ sha256 of output in the bench) | ${sec(c.apply.wallMs)} (+ ${sec(c.apply.sha256Ms)}) | ${cpuS(c.apply.cpuMs)} | ${rssMb(c.apply.peakRssBytes)} | ${c.apply.targetSha256Ok ? 'yes' : 'NO'} |`);
  if (c.generate) {
    const i = r.deltas.interop;
    lines.push(
      '',
      `Interop: Debian \`bspatch\` applies our patch: ${i.cliAppliesOurs ? 'yes' : 'NO'}; \`applyBsdiffPatch\` applies the CLI's patch: ${i.oursAppliesCli ? 'yes' : 'NO'}; the two patches are ${i.identicalPatches ? 'byte-identical' : 'different bytes'}. CLI peak RSS measured with ${c.generate.peakRssMethod}.`,
    );
  }
  lines.push(...opsTables(r));
  if (r.store?.length) {
    lines.push(
      '',
      `| artifact store, ${storeMiB} MiB object (own child process) | upload (\`putBlob\` from a generated stream) | download (\`getStream\`, sha256 on the fly) | peak RSS of the process | growth over baseline after start-up |`,
      '|---|---|---|---|---|',
    );
    for (const s of r.store) {
      const server = s.serverPeakRssBytes ? ` (server peak RSS ${rssMb(s.serverPeakRssBytes)})` : '';
      lines.push(`| ${s.backend}${server} | ${sec(s.uploadMs)} | ${sec(s.downloadMs)} | ${rssMb(s.peakRssBytes)} | ${rssMb(s.peakRssBytes - s.baselineRssBytes)} (baseline ${rssMb(s.baselineRssBytes)}) |`);
    }
  }
  return lines.join('\n');
}

function commandLine() {
  const rest = argv.filter((a) => a !== '--json');
  if (process.env.npm_lifecycle_event === 'bench') return `npm run bench${rest.length ? ` -- ${rest.join(' ')}` : ''}`;
  return `node bench/run.mjs${rest.length ? ` ${rest.join(' ')}` : ''}`;
}

function docsText(r, table) {
  const m = r.machine;
  const o = r.deltas.ours.generate;
  const c = r.deltas.cli;
  const notes = [];
  const ratio = (a, b) => `${(a / b).toFixed(2)} ×`;
  if (c.generate) {
    notes.push(
      `- **Ours against the CLI.** Our diff runs \`ota-bsdiff\` (native/ota-bsdiff: Colin Percival's bsdiff 4 matching on a SA-IS suffix array, libbz2, BSDIFF40), or bsdiff-node when it is not built; Debian's bsdiff is bsdiff 4 with qsufsort${r.deltas.interop.identicalPatches ? ', and on this pair they wrote byte-identical patches' : ''}. Measured here, our diff child used ${Number.isFinite(o.diffCpuMs) && Number.isFinite(c.generate.cpuMs) ? `${ratio(o.diffCpuMs, c.generate.cpuMs)} the CLI's CPU time (${ratio(o.diffChildMs, c.generate.wallMs)} its wall time, which other jobs on the machine distort; see Times)` : `${ratio(o.diffChildMs, c.generate.wallMs)} the CLI's wall time`} and ${ratio(o.diffPeakRssBytes, c.generate.peakRssBytes)} its peak RSS. On top of the diff, \`generateBsdiffDelta\` hashes both inputs and the patch, then applies the patch in a second child before it publishes the delta (verify: ${sec(o.verifyMs)}, peak RSS ${rssMb(o.verifyPeakRssBytes)}).`,
    );
  }
  notes.push(
    `- **Diff memory is ${(o.diffPeakRssBytes / r.deltas.pair.oldBytes).toFixed(1)} × the old image for ours**${c.generate ? ` and ${(c.generate.peakRssBytes / r.deltas.pair.oldBytes).toFixed(1)} × for the CLI` : ''}. bsdiff's qsufsort keeps two suffix-sort arrays with one entry per old-image byte, plus both images; Debian's build uses 4-byte entries (seen with \`strace\`: two anonymous mappings of 4 × the old image size each), bsdiff-node 8-byte ones (~18 ×). Ours runs \`ota-bsdiff\` when it is built: one 4-byte SA-IS suffix array plus the images and the diff block, the same patch bytes. Size delta workers from the largest image and run one delta job per worker at a time.`,
    `- **Apply memory follows the image, not the patch**: bspatch holds the old and the new image in RAM (${rssMb(r.deltas.ours.apply.peakRssBytes)} for this pair).`,
    `- **Times.** The machine has ${m.nproc} vCPUs. The 1-minute load average was ${m.loadAvgAtStart[0]} when the run started${m.loadAvg1MaxDuringRun !== undefined ? ` and reached ${m.loadAvg1MaxDuringRun} during it` : ''}. Other jobs may share the machine, so read the wall times as upper bounds, and compare ours with the CLI by CPU time (user + sys), which depends less on that load. The steps ran one after another: gzip, ours, then the CLI. The suffix sort is single-threaded. For the CLI, CPU time comes from \`/usr/bin/time -v\`. For our children it is read from \`/proc/<pid>/stat\` at their progress events; the last event comes just before the child exits.`,
  );
  if (r.deltas.ops) {
    const og = r.deltas.ops.pair100.generate;
    notes.push(
      `- **Ops format.** The ops patch is ${(og.patchBytes / o.patchBytes).toFixed(3)} × the whole-image bsdiff patch here. Its BSDIFF payloads come from \`ota-bsdiff\` (native/ota-bsdiff: bsdiff's matching on a SA-IS suffix array, libbz2; byte-identical to Debian's bsdiff for the same input) run per op against a source window of up to twice the op, found by rsync-style block matching; regions that are already compressed and found nowhere in the source are stored (REPLACE) without a bsdiff attempt. Generation time is dominated by the per-op bsdiff runs (phases: hashing ${sec(og.phaseMs.hashing)}, scanning ${sec(og.phaseMs.scanning)}, ops ${sec(og.phaseMs.writing)}). The Node.js applier costs the Node.js runtime (${rssMb(r.machine.nodeBaselineRssBytes)} for \`node -e ''\`) plus a bounded working set; the device applier \`ota-apply-ops\` streams bspatch (old bytes read by window, three bzip2 decoders), so neither grows with the image.`,
    );
  }
  if (r.store?.length) {
    notes.push(
      `- **Store streaming.** The store is designed so that memory is bounded by stream buffers and, for S3, by the multipart parts in flight (4 × 8 MiB by default), not by the object size. This bench measures one size. The peak came during upload for ${r.store.map((x) => `${x.backend.split(' ')[0]} (${rssMb(x.uploadPeakRssBytes)} after upload, ${rssMb(x.peakRssBytes)} overall)`).join(', ')}. \`test/stores.memory.test.ts\` checks on every test run that a 200 MiB transfer adds less than 150 MiB (157 MB), with 5 MiB parts.`,
    );
  }
  return `# Benchmarks

Measured by \`npm run bench\` (\`bench/run.mjs\`); this file is written by \`npm run bench -- --write-docs\`.
Do not edit the figures by hand: re-run the command. Delta design and the scenario sweep are in
[deltas.md](deltas.md), store design in [artifact-store.md](artifact-store.md).

## Machine and command

- Command: \`${r.command}\` (total ${sec(r.totalMs)}; image pair ${r.deltas.pair.cached ? 'reused from the .ota/bench/ cache' : 'built in this run'})
- Date: ${r.date}
- Machine: ${m.nproc} vCPU (\`nproc\`), ${m.cpu}, ${m.ramGB} GB RAM, ${m.os}, kernel ${m.kernel}; load average at start ${m.loadAvgAtStart.join(' / ')}${m.loadAvg1MaxDuringRun !== undefined ? `, highest 1-minute load average sampled during the run ${m.loadAvg1MaxDuringRun}` : ''}
- Node ${m.node}; Debian package bsdiff ${m.bsdiffPackage ?? '(not installed)'}; bsdiff-node 2.5.0 (fallback) and ota-bsdiff (native/ota-bsdiff, Go + libbz2)

## What is measured

- **Image pair**: ${
    r.deltas.pair.kind === 'releases'
      ? `(\`bench/release-pair.mjs\`) large executables from two consecutive releases of real software, the native builds
  published to the npm registry (fetched once with \`npm pack\`, which checks the registry's integrity hash): ${r.deltas.pair.binaries.map((b) => `${b.name}, ${mb(b.oldBytes)} → ${mb(b.newBytes)} MB`).join('; ')}.
  Each image is one release's binaries, 4 KiB aligned like a filesystem image. Between consecutive releases every binary is
  relinked (addresses shift throughout), and swc's embedded zstd-compressed section is rewritten: what a patch release does to firmware.`
      : `(\`test/support/image-pairs.mjs\`, seed ${r.deltas.pair.seed}, \`--pair synthetic\`): an "old" image made of real ELF binaries from
  this machine (\`/usr/bin\`, \`/usr/sbin\`, \`/usr/lib/...\`, name order, 4 KiB aligned like a filesystem image)
  and a "new" image where ${Math.round(r.deltas.pair.rebuiltFraction * 100)}% of the binaries are "rebuilt" (about 5% of one donor binary
  spliced in, relocation-like 32-bit address shifts every 16–256 bytes, 1 in 10 of them a changed constant),
  one binary added mid-image so everything after it moves, one removed. Not random bytes.`
  }
- **Delta generation**: our \`generateBsdiffDelta\` (compiled \`dist/deltas\`, the code the release worker runs;
  diff in a child process, then the patch is applied back in a second child and checked against the target sha256)
  against Debian's \`bsdiff\` CLI on the same pair. Wall time is measured by the bench around each call; peak RSS is
  the child's VmHWM for ours and ${c.generate?.peakRssMethod ?? '/usr/bin/time -v'} for the CLI.
- **Patch application**: \`applyBsdiffPatch\` (child process; bspatch, then sha256 of the output) against
  Debian's \`bspatch\` CLI; both outputs are checked against the new image's sha256.
- **Ops delta format** ([delta-format.md](delta-format.md)): \`generateOpsDelta\` (worker processes sized to the cores within a 512 MiB budget)
  and \`applyOpsDelta\` (source sha256 up front, then the patch as one stream, per-op sha256), each in its own process
  (\`bench/ops-child.mjs\`), on the same pair${r.deltas.ops?.big ? `, and on a ${mb(r.deltas.ops.big.pair.newBytes)} MB pair made of ${r.deltas.ops.big.pair.times} copies of it` : ''}; the output is checked against the target sha256.
- **Artifact store**: a ${storeMiB} MiB object streamed through \`putBlob\` and back through \`getStream\` in a
  dedicated child process (its VmHWM is the transfer's peak; "baseline" is its RSS after imports and opening the store).

## Figures

${table}

## Reading the figures

${notes.join('\n')}

## Machine-readable

\`npm run bench -- --json\` prints the same run as JSON. This run:

<details><summary>JSON</summary>

\`\`\`json
${JSON.stringify(r, null, 2)}
\`\`\`

</details>
`;
}

// ---------- main ----------
const benchStarted = performance.now();
let load1Max = loadavg()[0];
setInterval(() => (load1Max = Math.max(load1Max, loadavg()[0])), 2000).unref();
const work = join(root, '.ota', 'bench', `run-${process.pid}`);
mkdirSync(work, { recursive: true });
let exitCode = 0;
try {
  const m = machine();
  log(`machine: ${m.nproc} vCPU, ${m.cpu}, ${m.ramGB} GB RAM, Node ${m.node}; load ${m.loadAvgAtStart.join(' ')}`);
  const pair = await imagePair();
  const deltas = await deltaBench(pair, work);
  if (!flag('--no-ops')) deltas.ops = await opsBench(pair, work);
  const store = flag('--no-store') ? [] : await storeBench(work);
  m.loadAvg1MaxDuringRun = Number(Math.max(load1Max, loadavg()[0]).toFixed(2));
  const result = { date: new Date().toISOString(), command: commandLine(), machine: m, deltas, store, totalMs: performance.now() - benchStarted };
  const table = tables(result);
  if (statusShown) process.stderr.write('\r\x1b[K');
  out.write(`\n${table}\n`);
  if (wantJson) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  const failed = [
    deltas.ours.generate.targetSha256Ok,
    deltas.ours.apply.targetSha256Ok,
    deltas.cli.apply?.targetSha256Ok ?? true,
    deltas.interop.cliAppliesOurs ?? true,
    deltas.interop.oursAppliesCli ?? true,
    deltas.ops?.pair100.apply.targetSha256Ok ?? true,
    deltas.ops?.big?.apply.targetSha256Ok ?? true,
  ].some((ok) => !ok);
  if (failed) {
    log('FAILED: an output did not reproduce the target sha256 (see the table)');
    exitCode = 1;
  }
  if (writeDocs) {
    writeFileSync(join(root, 'docs', 'benchmarks.md'), docsText(result, table));
    log('wrote docs/benchmarks.md');
  }
  if (!flag('--no-rollout')) {
    // The rollout benchmark runs its own servers: one child, its figures in docs/rollout-benchmark.md.
    log('rollout benchmark (bench/rollout.mjs)');
    const rollout = spawnSync(process.execPath, [join(root, 'bench', 'rollout.mjs'), '--devices', option('--rollout-devices', '10000'), ...(writeDocs ? ['--write-docs'] : [])], { stdio: ['ignore', wantJson ? 'pipe' : 'inherit', 'inherit'], encoding: 'utf8' });
    if (rollout.status !== 0) {
      log('FAILED: rollout benchmark');
      exitCode = 1;
    } else if (wantJson) process.stdout.write(rollout.stdout);
  }
  log(`done in ${sec(performance.now() - benchStarted)}`);
} catch (err) {
  log(`FAILED: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.exitCode = exitCode;
