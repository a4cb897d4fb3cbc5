// Whole-image bsdiff: the release pipeline's generateBsdiffDelta / applyBsdiffPatch (they fork
// deltas/artifact-child.mjs, which reports its own VmHWM) against Debian's bsdiff/bspatch CLI on
// the same pair, each side applying the other's patch; plus the gzip full image the delta competes with.
// @ts-check
import { existsSync, statSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { flag } from './args.mjs';
import { log, mb, rssMb, sec, status } from './format.mjs';
import { cpuSeen, ourProgress, runCli } from './measure.mjs';
import { applyBsdiffPatch, compressFullImage, findTool, generateBsdiffDelta, sha256File } from './project.mjs';

/** The CLI on PATH (or .tools/bin), else Debian's usual path. */
function debianTool(name) {
  return findTool(name) ?? (existsSync(`/usr/bin/${name}`) ? `/usr/bin/${name}` : undefined);
}

export async function bsdiffBench(pair, work) {
  const results = { pair: { ...pair }, ours: {}, cli: {}, interop: {} };
  delete results.pair.dir;
  const bsdiffBin = debianTool('bsdiff');
  const bspatchBin = debianTool('bspatch');
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
