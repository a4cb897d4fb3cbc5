// The ops delta format: generateOpsDelta / applyOpsDelta (compiled dist/deltas/ops), each step in
// its own process (bench/ops-child.mjs) under /usr/bin/time, and the device applier ota-apply-ops,
// on the pair and (unless --no-1g) on a ~1 GB pair made of copies of it.
// @ts-check
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { flag, sizeMiB } from './args.mjs';
import { cpuS, log, mb, rssMb, sec } from './format.mjs';
import { bigPair } from './image-pair.mjs';
import { runCli } from './measure.mjs';
import { findNativeApplier, root, sha256File } from './project.mjs';

/** Runs bench/ops-child.mjs under /usr/bin/time (CPU includes the workers it reaps); returns its result too. */
async function opsChild(label, command, a, b, out, work) {
  const resultPath = join(work, `ops-${command}-${process.pid}.json`);
  const run = await runCli(label, process.execPath, [join(root, 'bench', 'ops-child.mjs'), command, a, b, out, resultPath]);
  const result = JSON.parse(readFileSync(resultPath, 'utf8'));
  rmSync(resultPath, { force: true });
  return { run, result };
}

/** Generate + apply with the ops format; every output is checked against the target sha256. */
export async function opsRound(label, oldPath, newPath, newSha256, work) {
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

export async function opsBench(pair, work) {
  const results = { pair100: await opsRound(`${sizeMiB}MiB`, pair.oldPath, pair.newPath, pair.newSha256, work) };
  if (!flag('--no-1g')) {
    const big = await bigPair(pair, 10);
    results.big = { pair: { times: big.times, oldBytes: big.oldBytes, newBytes: big.newBytes }, ...(await opsRound(`${Math.round(big.newBytes / 1e6)}MB`, big.oldPath, big.newPath, big.newSha256, work)) };
  }
  return results;
}
