#!/usr/bin/env node
// Delta benchmark: builds realistic image pairs from this machine's ELF binaries, then measures
// the compressed full image, bsdiff generation (time, size, peak RSS of the generator child) and
// patch application (time, peak RSS), as the release pipeline runs them. Figures go to docs/deltas.md.
//
//   npx tsc -p . && node bench/deltas.bench.mjs [sizeMiB:rebuiltFraction ...]
//
// Default scenarios: 32:0.2 (maintenance release, 20% of binaries rebuilt), 32:1 (every binary
// rebuilt), 100:0.2.
//
// Uses the compiled dist/deltas (the same code the Temporal worker runs). ~2-3 minutes on 2 cores.
// The headline comparison against Debian's bsdiff CLI is `npm run bench` (bench/run.mjs, docs/benchmarks.md).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { buildImagePair } from '../test/support/image-pairs.mjs';

const dist = new URL('../dist/deltas/index.js', import.meta.url);
if (!existsSync(dist)) {
  console.error('dist/deltas/index.js is missing: run `npx tsc -p .` (or npm run build) first');
  process.exit(1);
}
const { applyBsdiffPatch, compressFullImage, generateBsdiffDelta } = await import(dist.href);

const scenarios = (process.argv.length > 2 ? process.argv.slice(2) : ['32:0.2', '32:1', '100:0.2']).map((arg) => {
  const [size, fraction] = arg.split(':').map(Number);
  if (!(size > 0) || !(fraction >= 0 && fraction <= 1)) throw new Error(`bad scenario ${arg}: want sizeMiB:rebuiltFraction`);
  return { sizeMiB: size, rebuiltFraction: fraction };
});
const MiB = 1024 * 1024;
const mb = (n) => (n / 1e6).toFixed(n < 1e7 ? 2 : 1);
const sec = (ms) => (ms / 1000).toFixed(1);
const rssMb = (n) => Math.round(n / 1e6);

function machine() {
  const model = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
  return { nproc: cpus().length, cpu: model.trim(), memGB: Math.round(totalmem() / 1e9), node: process.version };
}

const dir = mkdtempSync(join(tmpdir(), 'ota-delta-bench-'));
const rows = [];
try {
  for (const { sizeMiB, rebuiltFraction } of scenarios) {
    const oldPath = join(dir, `old-${sizeMiB}.img`);
    const newPath = join(dir, `new-${sizeMiB}.img`);
    const pair = buildImagePair({ oldPath, newPath, targetBytes: sizeMiB * MiB, seed: sizeMiB, rebuiltFraction });
    console.error(`[bench] ${sizeMiB} MiB pair: ${pair.binaries} binaries, ${pair.rebuilt} rebuilt, +${pair.added}, -${pair.removed}`);

    const gz = await compressFullImage({ imagePath: newPath, outPath: join(dir, `new-${sizeMiB}.img.gz`), compression: 'gzip' });
    console.error(`[bench]   gzip -9: ${mb(gz.compressedLength)} MB in ${sec(gz.durationMs)} s`);

    const started = Date.now();
    let lastBeat = started;
    let maxGapMs = 0;
    const patchPath = join(dir, `delta-${sizeMiB}.bsdiff`);
    const delta = await generateBsdiffDelta({
      oldImagePath: oldPath,
      newImagePath: newPath,
      outPath: patchPath,
      fullCompressedLength: gz.compressedLength,
      // Heartbeat cadence seen by the caller (the Temporal activity heartbeats on these).
      onProgress: () => {
        const now = Date.now();
        maxGapMs = Math.max(maxGapMs, now - lastBeat);
        lastBeat = now;
      },
    });
    if (delta.status !== 'generated') throw new Error(`delta was skipped: ${delta.reason}`);
    console.error(`[bench]   bsdiff: ${mb(delta.length)} MB in ${sec(delta.diff.durationMs)} s, peak RSS ${rssMb(delta.diff.peakRssBytes)} MB`);

    const applied = await applyBsdiffPatch(oldPath, patchPath, join(dir, `rebuilt-${sizeMiB}.img`), { expectedSha256: delta.toSha256 });
    rows.push({
      sizeMiB,
      oldBytes: pair.oldBytes,
      newBytes: pair.newBytes,
      binaries: pair.binaries,
      rebuilt: pair.rebuilt,
      gzipBytes: gz.compressedLength,
      gzipMs: gz.durationMs,
      gzipRss: gz.peakRssBytes,
      deltaBytes: delta.length,
      ratio: delta.ratio,
      diffMs: delta.diff.durationMs,
      diffRss: delta.diff.peakRssBytes,
      totalMs: delta.durationMs,
      maxProgressGapMs: maxGapMs,
      applyMs: applied.durationMs,
      patchMs: applied.patchMs,
      applyRss: applied.peakRssBytes,
    });
    for (const f of [oldPath, newPath, gz.path, patchPath, applied.path]) rmSync(f, { force: true });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const m = machine();
console.log(`Machine: ${m.nproc} vCPU (nproc), ${m.cpu}, ${m.memGB} GB RAM, Node ${m.node}\n`);
console.log('| image (old → new) | gzip -9 full | bsdiff delta | delta / gzip | diff time | diff peak RSS | apply time (bspatch + sha256) | apply peak RSS | longest progress gap |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${mb(r.oldBytes)} → ${mb(r.newBytes)} MB (${r.binaries} ELF, ${r.rebuilt} rebuilt) | ${mb(r.gzipBytes)} MB in ${sec(r.gzipMs)} s | ${mb(r.deltaBytes)} MB | ${(r.ratio * 100).toFixed(1)}% | ${sec(r.diffMs)} s | ${rssMb(r.diffRss)} MB | ${sec(r.applyMs)} s (${sec(r.patchMs)} s) | ${rssMb(r.applyRss)} MB | ${sec(r.maxProgressGapMs)} s |`,
  );
}
console.log(`\n${JSON.stringify({ machine: m, rows })}`);
