// The report: the figures tables (stdout, and docs/benchmarks.md with --write-docs) from one run's results.
// @ts-check
import { storeMiB } from './args.mjs';
import { cpuS, mb, pct, rssMb, sec } from './format.mjs';
import { pairSummary } from './image-pair.mjs';

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

/** The tar and ext4 pairs: ops against the bsdiff CLI in the same run, and the issue's targets per pair. */
export function fsTables(r) {
  const pairs = r.deltas.fs;
  if (!pairs?.length) return [];
  const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b ? `${(a / b).toFixed(2)} ×` : '–');
  const yes = (ok) => (ok ? 'met' : '**not met**');
  const lines = [
    '',
    '**Filesystem images** (`bench/fs-pairs.mjs`: the same two releases as a root filesystem tree, packed as a GNU tar and as an ext4 image by `mke2fs -d`; the CLI\'s patch stands for whole-image bsdiff, whose bytes ota-bsdiff matches):',
    '',
    '| pair | Debian `bsdiff`: wall / CPU / peak RSS / patch | ops generate: wall / CPU / peak RSS (sum) / patch | patch ops / bsdiff | wall bsdiff / ops | Debian `bspatch`: wall / peak RSS | `ota-apply-ops` (extent): wall / peak RSS | output reproduces target sha256 |',
    '|---|---|---|---|---|---|---|---|',
  ];
  const targets = [];
  for (const f of pairs) {
    const g = f.ops.generate;
    const n = f.ops.applyNative;
    const c = f.cli;
    const name = `${f.kind}, ${mb(f.pair.oldBytes)} → ${mb(f.pair.newBytes)} MB`;
    // When the CLI did not finish (--cli-timeout), ota-bsdiff's whole-image patch (the same bytes) is the reference.
    const unfinished = c?.generate.timedOut;
    const bsdiffBytes = unfinished ? c.reference?.patchBytes : c?.generate.patchBytes;
    const cliGen = !c
      ? 'not run'
      : unfinished
        ? `not finished after ${sec(c.generate.wallMs)} (CPU ≥ ${cpuS(c.generate.cpuMs)}, peak RSS ≥ ${rssMb(c.generate.peakRssBytes)}); whole-image \`ota-bsdiff\`: ${sec(c.reference.wallMs)} / ${mb(c.reference.patchBytes)} MB`
        : `${sec(c.generate.wallMs)} / ${cpuS(c.generate.cpuMs)} / ${rssMb(c.generate.peakRssBytes)} / ${mb(c.generate.patchBytes)} MB`;
    const speedup = c ? `${unfinished ? 'more than ' : ''}${ratio(c.generate.wallMs, g.wallMs)}` : '–';
    const ok = f.ops.apply.targetSha256Ok && (n?.targetSha256Ok ?? true) && (c?.apply?.targetSha256Ok ?? true);
    lines.push(
      `| ${name} | ${cliGen} | ${sec(g.wallMs)} / ${cpuS(g.cpuMs)} / ${rssMb(g.peakRssBytes)} / ${mb(g.patchBytes)} MB (${g.opCount} ops, ${g.workers} workers) | ${bsdiffBytes ? ratio(g.patchBytes, bsdiffBytes) : '–'} | ${speedup} | ${c?.apply ? `${sec(c.apply.wallMs)} / ${rssMb(c.apply.peakRssBytes)}` : '–'} | ${n ? `${sec(n.wallMs)} / ${rssMb(n.peakRssBytes)}` : 'not built'} | ${ok ? 'yes' : 'NO'} |`,
    );
    if (c && bsdiffBytes) {
      targets.push(
        [`${f.kind}: patch ≤ 1.00 × whole-image bsdiff`, `${mb(g.patchBytes)} MB vs ${mb(bsdiffBytes)} MB${unfinished ? ' (ota-bsdiff)' : ''} (${(g.patchBytes / bsdiffBytes).toFixed(3)} ×)`, yes(g.patchBytes <= bsdiffBytes)],
        [`${f.kind}: generation ≥ 5 × faster than the \`bsdiff\` CLI (wall)`, `${sec(g.wallMs)} vs ${unfinished ? `more than ${sec(c.generate.wallMs)}, the CLI not finished` : sec(c.generate.wallMs)} (${speedup}${unfinished ? '' : `; CPU ${ratio(c.generate.cpuMs, g.cpuMs)}`})`, yes(c.generate.wallMs / g.wallMs >= 5)],
        [`${f.kind}: generation peak < 512 MB`, rssMb(g.peakRssBytes), yes(g.peakRssBytes < 512e6)],
      );
      if (n) targets.push([`${f.kind}: device apply < 32 MB RSS and no slower than \`bspatch\``, `${rssMb(n.peakRssBytes)}, ${sec(n.wallMs)} vs ${sec(c.apply.wallMs)}`, yes(n.peakRssBytes < 32e6 && n.wallMs <= c.apply.wallMs)]);
    }
  }
  if (targets.length) lines.push('', '| target (issue 17, filesystem images) | measured | |', '|---|---|---|', ...targets.map((row) => `| ${row.join(' | ')} |`));
  return lines;
}

export function tables(r) {
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
  lines.push(...opsTables(r), ...fsTables(r));
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

export function docsText(r, table) {
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
      `- **Store streaming.** The store is designed so that memory is bounded by stream buffers and, for S3, by the multipart parts in flight (4 × 8 MiB by default), not by the object size. This bench measures one size. The peak came during upload for ${r.store.map((x) => `${x.backend.split(' ')[0]} (${rssMb(x.uploadPeakRssBytes)} after upload, ${rssMb(x.peakRssBytes)} overall)`).join(', ')}. \`test/stores/memory.test.ts\` checks on every test run that a 200 MiB transfer adds less than 150 MiB (157 MB), with 5 MiB parts.`,
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
