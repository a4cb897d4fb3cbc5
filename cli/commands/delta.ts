// `ota delta create|apply`: standalone delta tools for release engineers and benchmarks.
// create writes an ops patch (default) or a whole-image BSDIFF40 patch; apply recognises either
// by its magic. Progress goes to stderr; --json prints sizes, times and this process's peak
// memory (VmHWM) on stdout.
import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { applyBsdiffPatch, generateBsdiffDelta } from '../../deltas/index.js';
import { applyOpsDeltaWith, generateOpsDelta, opsApplyCheckpointSchema, type OpsApplierChoice, type OpsApplyCheckpoint } from '../../deltas/ops/index.js';
import { peakRssBytes } from '#deltas/peak-rss.mjs';
import { printResult, throttledProgress } from '../output.js';
import { registerDeltaGcCommand } from './delta-gc.js';

interface CreateOptions {
  from: string;
  to: string;
  out: string;
  format: string;
  workers?: string;
  maxOpMib?: string;
  json?: boolean;
}

interface ApplyOptions {
  from: string;
  patch: string;
  out: string;
  state?: string;
  checkpointMib?: string;
  sourceCheck: string;
  applier: string;
  json?: boolean;
}

const MiB = 1024 * 1024;
const mb = (n: number) => `${(n / 1e6).toFixed(n < 1e7 ? 2 : 1)} MB`;
const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function positive(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(n > 0)) throw new Error(`${what} must be a positive number, got ${value}`);
  return n;
}

async function sniffFormat(patchPath: string): Promise<'ops' | 'bsdiff'> {
  // A FIFO or other stream cannot be peeked without losing the bytes; only ops patches stream.
  if (!(await stat(patchPath)).isFile()) return 'ops';
  const fh = await open(patchPath, 'r');
  try {
    const head = Buffer.alloc(8);
    await fh.read(head, 0, 8, 0);
    const magic = head.toString('latin1');
    if (magic === 'OTAOPS\r\n') return 'ops';
    if (magic === 'BSDIFF40') return 'bsdiff';
    throw new Error(`${patchPath} is neither an ops delta nor a BSDIFF40 patch`);
  } finally {
    await fh.close();
  }
}

/** The checkpoint file is replaced atomically, so a power cut leaves the old or the new one. */
async function saveCheckpoint(path: string, checkpoint: OpsApplyCheckpoint): Promise<void> {
  const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await open(temp, 'w');
  try {
    await fh.writeFile(`${JSON.stringify(checkpoint)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(temp, path);
}

async function create(opts: CreateOptions): Promise<void> {
  const report = throttledProgress(opts);
  const started = performance.now();
  if (opts.format === 'bsdiff') {
    const r = await generateBsdiffDelta({
      oldImagePath: opts.from,
      newImagePath: opts.to,
      outPath: opts.out,
      fullCompressedLength: Number.POSITIVE_INFINITY, // a standalone patch: no skip rule
      onProgress: (p) => report(`bsdiff: ${p.phase} ${p.bytesTotal ? Math.floor((p.bytesDone / p.bytesTotal) * 100) : 0}%`),
    });
    if (r.status !== 'generated') throw new Error(`no patch written: ${r.reason}`);
    const result = {
      format: 'bsdiff',
      from: { path: opts.from, sha256: r.fromSha256 },
      to: { path: opts.to, sha256: r.toSha256 },
      patch: { path: opts.out, sha256: r.sha256, length: r.length },
      durationMs: performance.now() - started,
      peakRssBytes: { process: peakRssBytes(), diffChild: r.diff.peakRssBytes, verifyChild: r.verify.peakRssBytes },
    };
    printResult(opts, result, () => `bsdiff patch ${opts.out}: ${mb(r.length)} in ${sec(result.durationMs)} (diff child peak RSS ${mb(r.diff.peakRssBytes)}; verified by re-applying)`);
    return;
  }
  if (opts.format !== 'ops') throw new Error(`--format must be ops or bsdiff, got ${opts.format}`);
  const maxOpMib = positive(opts.maxOpMib, '--max-op-mib');
  const r = await generateOpsDelta({
    sourcePath: opts.from,
    targetPath: opts.to,
    outPath: opts.out,
    workers: positive(opts.workers, '--workers'),
    maxOpBytes: maxOpMib ? Math.round(maxOpMib * MiB) : undefined,
    onProgress: (p) => report(`ops: ${p.phase} ${p.bytesTotal ? Math.floor((p.bytesDone / p.bytesTotal) * 100) : 0}%${p.opsTotal ? ` (op ${p.opsDone}/${p.opsTotal})` : ''}`),
  });
  const result = {
    format: 'ops',
    from: { path: opts.from, sha256: r.sourceSha256, length: r.sourceLength },
    to: { path: opts.to, sha256: r.targetSha256, length: r.targetLength },
    patch: { path: opts.out, sha256: r.sha256, length: r.length },
    opCount: r.opCount,
    ops: r.ops,
    tarAligned: r.tarAligned,
    workers: r.workers,
    durationMs: r.durationMs,
    phaseMs: r.phaseMs,
    peakRssBytes: { process: r.peakRssBytes.main, workers: r.peakRssBytes.workers, total: r.peakRssBytes.total },
  };
  printResult(
    opts,
    result,
    () =>
      `ops patch ${opts.out}: ${mb(r.length)}, ${r.opCount} ops (${Object.entries(r.ops).map(([k, s]) => `${k} ${s.count}`).join(', ')})${r.tarAligned ? ', tar-member aligned' : ''}\n` +
      `${sec(r.durationMs)} with ${r.workers} workers; peak RSS ${mb(r.peakRssBytes.main)} main + ${r.peakRssBytes.workers.map(mb).join(' + ')} workers`,
  );
}

async function apply(opts: ApplyOptions): Promise<void> {
  const report = throttledProgress(opts);
  const format = await sniffFormat(opts.patch);
  if (format === 'bsdiff') {
    if (opts.state) throw new Error('--state (resume) works with ops patches only');
    const r = await applyBsdiffPatch(opts.from, opts.patch, opts.out, { onProgress: (p) => report(`bspatch: ${p.phase}`) });
    const result = { format, out: { path: opts.out, sha256: r.sha256, length: r.length }, durationMs: r.durationMs, peakRssBytes: { process: peakRssBytes(), patchChild: r.peakRssBytes } };
    printResult(opts, result, () => `wrote ${opts.out} (${mb(r.length)}, sha256 ${r.sha256}) in ${sec(r.durationMs)}`);
    return;
  }
  if (opts.sourceCheck !== 'full' && opts.sourceCheck !== 'extent') throw new Error(`--source-check must be full or extent, got ${opts.sourceCheck}`);
  if (!['auto', 'native', 'node'].includes(opts.applier)) throw new Error(`--applier must be auto, native or node, got ${opts.applier}`);
  const resumeFrom = opts.state && existsSync(opts.state) ? opsApplyCheckpointSchema.parse(JSON.parse(await readFile(opts.state, 'utf8'))) : undefined;
  if (resumeFrom) report(`resuming at op ${resumeFrom.opIndex} (target byte ${resumeFrom.targetOffset}) from ${opts.state}`, true);
  const checkpointMib = positive(opts.checkpointMib, '--checkpoint-mib');
  const r = await applyOpsDeltaWith(opts.applier as OpsApplierChoice, {
    sourcePath: opts.from,
    patchPath: opts.patch,
    outPath: opts.out,
    sourceCheck: opts.sourceCheck,
    resumeFrom,
    checkpointBytes: checkpointMib ? Math.round(checkpointMib * MiB) : undefined,
    onCheckpoint: opts.state ? (c) => saveCheckpoint(opts.state!, c) : undefined,
    onProgress: (p) => report(`ops: op ${p.opIndex}/${p.opCount}, ${Math.floor((p.targetOffset / p.targetLength) * 100)}%`, p.opIndex === p.opCount),
  });
  if (opts.state) await rm(opts.state, { force: true });
  const result = {
    format,
    out: { path: opts.out, sha256: r.sha256, length: r.length },
    opCount: r.opCount,
    resumedFromOp: r.resumedFromOp,
    durationMs: r.durationMs,
    sourceCheckMs: r.sourceCheckMs,
    /** Which applier ran: native (ota-apply-ops, a child process) or node (this process). */
    applier: r.applier,
    ...(r.applierReason ? { applierReason: r.applierReason } : {}),
    // process: this CLI process; applier: the process that applied (the same one for node).
    peakRssBytes: { process: r.applier === 'native' ? peakRssBytes() : r.peakRssBytes, applier: r.peakRssBytes },
  };
  printResult(
    opts,
    result,
    () =>
      `wrote ${opts.out} (${mb(r.length)}, sha256 ${r.sha256}) in ${sec(r.durationMs)}${r.resumedFromOp ? `, resumed at op ${r.resumedFromOp}` : ''}; ` +
      `${r.applier === 'native' ? 'native applier' : 'Node.js applier'}, peak RSS ${mb(r.peakRssBytes)}`,
  );
}

export function registerDeltaCommands(program: Command): void {
  const delta = program.command('delta').description('create and apply binary deltas between two images; collect old on-demand deltas (gc)');
  delta
    .command('create')
    .description('write a patch from OLD to NEW: an ops delta (parallel, streaming apply) or a whole-image bsdiff')
    .requiredOption('--from <old>', 'the image devices have')
    .requiredOption('--to <new>', 'the image they should get')
    .requiredOption('--out <patch>', 'where to write the patch (appears only when complete)')
    .option('--format <format>', 'ops | bsdiff', 'ops')
    .option('--workers <n>', 'ops: worker processes (default: cores, within a 512 MiB budget)')
    .option('--max-op-mib <n>', 'ops: largest target extent of one op in MiB (default 4)')
    .option('--json', 'print sizes, times and peak memory as JSON')
    .action((opts: CreateOptions) => create(opts));
  delta
    .command('apply')
    .description('rebuild NEW from OLD and a patch (ops or BSDIFF40, recognised by its magic)')
    .requiredOption('--from <old>', 'the image the patch was made from')
    .requiredOption('--patch <patch>', 'the patch')
    .requiredOption('--out <new>', 'where to write the result (appears only when complete and verified)')
    .option('--state <file>', 'ops: record checkpoints here and resume from it after an interruption')
    .option('--checkpoint-mib <n>', 'ops: checkpoint every N MiB of output (default 16)')
    .option('--source-check <mode>', 'ops: full (hash the source first) | extent (per-op hashes only)', 'full')
    .option('--applier <applier>', 'ops: auto (native ota-apply-ops when installed and the patch is a file) | native | node', 'auto')
    .option('--json', 'print sizes, times and peak memory as JSON')
    .action((opts: ApplyOptions) => apply(opts));
  registerDeltaGcCommand(delta);
}

