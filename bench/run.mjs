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
//   --rollout-noise-devices N              # its noisy-fleet pool (default 400)
//   --no-decision                          # the rollout decision statistics (bench/rollout-decision.mjs)
//   --no-gateway / --gateway-quick         # gateway throughput over mTLS on PostgreSQL (bench/gateway-load.mjs)
//   --no-ops skips the ops delta format; --no-1g its ~1 GB generation/apply run; --no-fs its tar
//   and ext4 pairs (bench/fs-pairs.mjs, the same releases as filesystem images); --fs tar|ext4 one
//   of them; --fs-only runs just those (table and JSON, no docs); --cli-timeout S stops Debian's
//   bsdiff on a filesystem pair after S seconds (default 600; 0: no limit), recorded as not finished
//
// One file per benchmark (bsdiff.mjs, ops.mjs, store.mjs, rollout.mjs); this runner runs them in
// turn and writes the report (report.mjs). Every heavy step runs in its own process, so each peak
// RSS is that step's alone:
//  - ours: generateBsdiffDelta / applyBsdiffPatch fork deltas/artifact-child.mjs, which reports
//    its own VmHWM;
//  - CLI: /usr/bin/time -v (package `time`) gives the child's maximum RSS; without it the bench
//    polls /proc/<pid>/status VmHWM every 100 ms (a lower bound);
//  - store: bench/store-stream.mjs reports its own VmHWM.
// The image pair is cached under .ota/bench/ (keyed by the generator's source; synthetic: size and seed).
// @ts-check
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { commandLine, flag, option, pairKind, wantJson, writeDocs } from './args.mjs';
import { bsdiffBench } from './bsdiff.mjs';
import { fsBench } from './fs-bench.mjs';
import { clearStatus, log, out, sec } from './format.mjs';
import { imagePair } from './image-pair.mjs';
import { machine } from './machine.mjs';
import { opsBench } from './ops.mjs';
import { root } from './project.mjs';
import { docsText, fsTables, tables } from './report.mjs';
import { storeBench } from './store.mjs';

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
  if (flag('--fs-only')) {
    // Only the filesystem pairs (each against the CLI), e.g. on a busy machine: table and JSON, no docs.
    const fs = await fsBench(pair.dir, work);
    clearStatus();
    out.write(`\n${fsTables({ deltas: { fs } }).join('\n')}\n`);
    if (wantJson) process.stdout.write(`${JSON.stringify({ date: new Date().toISOString(), command: commandLine(), machine: m, fs, totalMs: performance.now() - benchStarted }, null, 2)}\n`);
    process.exit(fs.every((f) => f.ops.apply.targetSha256Ok && (f.ops.applyNative?.targetSha256Ok ?? true)) ? 0 : 1);
  }
  const deltas = await bsdiffBench(pair, work);
  if (!flag('--no-ops')) deltas.ops = await opsBench(pair, work);
  // The same releases as tar and ext4 images (releases pair only: the trees are its binaries).
  if (!flag('--no-ops') && !flag('--no-fs') && pairKind === 'releases') deltas.fs = await fsBench(pair.dir, work);
  const store = flag('--no-store') ? [] : await storeBench(work);
  m.loadAvg1MaxDuringRun = Number(Math.max(load1Max, loadavg()[0]).toFixed(2));
  const result = { date: new Date().toISOString(), command: commandLine(), machine: m, deltas, store, totalMs: performance.now() - benchStarted };
  const table = tables(result);
  clearStatus();
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
    ...(deltas.fs ?? []).flatMap((f) => [f.ops.apply.targetSha256Ok, f.ops.applyNative?.targetSha256Ok ?? true, f.cli?.apply?.targetSha256Ok ?? true]),
  ].some((ok) => !ok);
  if (failed) {
    log('FAILED: an output did not reproduce the target sha256 (see the table)');
    exitCode = 1;
  }
  if (writeDocs) {
    // The gateway throughput block is bench/gateway-load.mjs's: kept as it is until that bench rewrites it.
    const page = join(root, 'docs', 'benchmarks.md');
    const gatewayBlock = existsSync(page) ? /<!-- gateway-load:start -->[\s\S]*?<!-- gateway-load:end -->/.exec(readFileSync(page, 'utf8'))?.[0] : undefined;
    writeFileSync(page, gatewayBlock ? `${docsText(result, table).trimEnd()}\n\n${gatewayBlock}\n` : docsText(result, table));
    log('wrote docs/benchmarks.md');
  }
  if (!flag('--no-gateway')) {
    // Gateway throughput: its own gateway, PostgreSQL and load-generator processes; one child.
    log('gateway throughput (bench/gateway-load.mjs)');
    const gateway = spawnSync(process.execPath, [join(root, 'bench', 'gateway-load.mjs'), ...(flag('--gateway-quick') ? ['--quick'] : []), ...(wantJson ? ['--json'] : []), ...(writeDocs ? ['--write-docs'] : [])], { stdio: ['ignore', wantJson ? 'pipe' : 'inherit', 'inherit'], encoding: 'utf8' });
    if (gateway.status !== 0) {
      log('FAILED: gateway throughput benchmark');
      exitCode = 1;
    } else if (wantJson) process.stdout.write(gateway.stdout);
  }
  if (!flag('--no-rollout')) {
    // The rollout benchmark runs its own servers: one child, its figures in docs/rollout-benchmark.md.
    log('rollout benchmark (bench/rollout.mjs)');
    const rollout = spawnSync(process.execPath, [join(root, 'bench', 'rollout.mjs'), '--devices', option('--rollout-devices', '10000'), '--noise-devices', option('--rollout-noise-devices', '400'), ...(writeDocs ? ['--write-docs'] : [])], { stdio: ['ignore', wantJson ? 'pipe' : 'inherit', 'inherit'], encoding: 'utf8' });
    if (rollout.status !== 0) {
      log('FAILED: rollout benchmark');
      exitCode = 1;
    } else if (wantJson) process.stdout.write(rollout.stdout);
  }
  if (!flag('--no-decision')) {
    // The sequential decision rule over 1,000 seeded rollouts per scenario: pure, seconds.
    log('rollout decision statistics (bench/rollout-decision.mjs)');
    const decision = spawnSync(process.execPath, [join(root, 'bench', 'rollout-decision.mjs'), ...(wantJson ? ['--json'] : []), ...(writeDocs ? ['--write-docs'] : [])], { stdio: ['ignore', wantJson ? 'pipe' : 'inherit', 'inherit'], encoding: 'utf8' });
    if (decision.status !== 0) {
      log('FAILED: rollout decision statistics');
      exitCode = 1;
    } else if (wantJson) process.stdout.write(decision.stdout);
  }
  log(`done in ${sec(performance.now() - benchStarted)}`);
} catch (err) {
  log(`FAILED: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.exitCode = exitCode;
