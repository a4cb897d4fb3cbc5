// generateOpsDelta: the parallel generator of the ops format (docs/delta-format.md).
//  1. two workers hash the images; the source one also hashes every aligned block (the index);
//  2. workers scan target segments against the index: verbatim matches and zero runs;
//  3. plan.ts turns that into ops (COPY / ZERO / BSDIFF of a source extent / REPLACE);
//  4. workers compute each op's sha256 and payload; results are written strictly in op order
//     while later ops are still being computed, with a bounded number of results held.
// Memory: the main process holds the plan and finished op results up to 32 MiB of payload (result-window.ts); each worker holds
// one segment or one op's source extent + target extent (bsdiff: ~6 x the extent in ota-bsdiff,
// ~18 x in bsdiff-node). None of it grows with the image.
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { resolveBsdiffTool, type BsdiffEngine } from '../bsdiff-engine.js';
import { writeAtomically } from '../../platform/atomic-write.js';
import { OpsDeltaError } from './errors.js';
import { encodeHeader, encodeOp, encodeTrailer, MAX_OP_TARGET_BYTES, type OpRecord, type OpsHeader } from './format.js';
import { chainDigest, EMPTY_SHA256, startDigest } from './patch-digest.js';
import { peakRssBytes } from '#deltas/peak-rss.mjs';
import { planOps, type MemberPair, type PlannedOp } from './plan.js';
import { readTarLayout } from './tar-layout.js';
import { DEFAULT_HELD_RESULT_BYTES, ResultWindow } from './result-window.js';
import { OpsWorkerPool } from './worker-pool.js';

export const DEFAULT_BLOCK_SIZE = 4096;
export const DEFAULT_MAX_OP_BYTES = 4 * 1024 * 1024;
export const DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024;
export const DEFAULT_MEMORY_BUDGET_BYTES = 512 * 1024 * 1024;

export type OpsGeneratePhase = 'hashing' | 'scanning' | 'writing';

export interface OpsGenerateProgress {
  phase: OpsGeneratePhase;
  /** Bytes of the target handled in this phase (hashing: of both images). */
  bytesDone: number;
  bytesTotal: number;
  opsDone: number;
  opsTotal: number;
}

export interface GenerateOpsDeltaOptions {
  sourcePath: string;
  targetPath: string;
  outPath: string;
  /** 'auto' (default): member-aligned when both images are tar archives. */
  tar?: 'auto' | 'off';
  blockSize?: number;
  /** Largest target length of one op (default 4 MiB); bsdiff extents are at most twice that. */
  maxOpBytes?: number;
  segmentBytes?: number;
  /** Worker processes; default: the cores, as many as the memory budget allows (at least 1). */
  workers?: number;
  memoryBudgetBytes?: number;
  /** Where workers put bsdiff's input/output files (default: the OS temp dir). */
  scratchDir?: string;
  /**
   * Which bsdiff computes BSDIFF payloads (both write the same bytes): 'native' = ota-bsdiff
   * (native/ota-bsdiff, built by the setup script), 'node' = bsdiff-node, 'auto' (default) =
   * native when it is built.
   */
  bsdiffEngine?: BsdiffEngine;
  signal?: AbortSignal;
  onProgress?: (progress: OpsGenerateProgress) => void;
}

export interface OpKindStats {
  count: number;
  /** Target bytes written by these ops. */
  bytes: number;
  payloadBytes: number;
}

export interface GeneratedOpsDelta {
  path: string;
  format: 'ops';
  /** sha256 and length of the patch file. */
  sha256: string;
  length: number;
  sourceSha256: string;
  sourceLength: number;
  targetSha256: string;
  targetLength: number;
  opCount: number;
  ops: Record<OpRecord['kind'], OpKindStats>;
  tarAligned: boolean;
  workers: number;
  durationMs: number;
  phaseMs: { hashing: number; scanning: number; writing: number };
  /** VmHWM of the main process and of each worker; total is their sum (an upper bound of the simultaneous peak). */
  peakRssBytes: { main: number; workers: number[]; total: number };
}

interface OpResult {
  sha256: string;
  kind?: 'bsdiff' | 'replace';
  codec?: 'none' | 'brotli';
  payload?: Uint8Array;
}

/**
 * Worst-case memory of one worker: Node itself, its source + target buffers, and bsdiff: ~18 x the
 * source extent for bsdiff-node (qsufsort), ~6 x for ota-bsdiff (SA-IS with 32-bit offsets, plus the
 * target and its diff block) in its own process.
 */
export function workerMemoryEstimate(maxOpBytes: number, engine: 'native' | 'node' = 'node'): number {
  const extent = 2 * maxOpBytes;
  return 48 * 1024 * 1024 + 3 * maxOpBytes + (engine === 'native' ? 5 * extent + 3 * maxOpBytes : 18 * extent);
}

function defaultWorkers(maxOpBytes: number, budget: number, engine: 'native' | 'node'): number {
  // Node, the plan, and finished results up to the held-bytes bound (result-window.ts).
  const mainReserve = 96 * 1024 * 1024 + DEFAULT_HELD_RESULT_BYTES;
  const byMemory = Math.floor((budget - mainReserve) / workerMemoryEstimate(maxOpBytes, engine));
  return Math.max(1, Math.min(availableParallelism(), byMemory));
}

async function memberPairs(sourcePath: string, targetPath: string): Promise<MemberPair[] | undefined> {
  const [source, target] = await Promise.all([readTarLayout(sourcePath), readTarLayout(targetPath)]);
  if (!source || !target) return undefined;
  const byPath = new Map(source.map((m) => [m.path, m]));
  const pairs: MemberPair[] = [];
  for (const m of target) {
    const old = byPath.get(m.path);
    if (old) pairs.push({ target: { start: m.start, end: m.end }, source: { start: old.start, end: old.end } });
  }
  return pairs;
}

const zeroHashes = new Map<number, string>();
function zeroSha256(length: number): string {
  let hash = zeroHashes.get(length);
  if (!hash) {
    hash = createHash('sha256').update(Buffer.alloc(length)).digest('hex');
    if (zeroHashes.size < 64) zeroHashes.set(length, hash);
  }
  return hash;
}

function resultBytes(result: OpResult): number {
  return result.payload?.byteLength ?? 0;
}

function jobFor(op: PlannedOp): { kind: string } & Record<string, unknown> {
  return { ...op, kind: op.kind };
}

function recordFor(index: number, op: PlannedOp, result: OpResult): { record: OpRecord; payload: Buffer } {
  const base = { index, targetOffset: op.targetOffset, targetLength: op.targetLength, sha256: result.sha256 };
  const payload = result.payload ? Buffer.from(result.payload.buffer, result.payload.byteOffset, result.payload.byteLength) : Buffer.alloc(0);
  switch (op.kind) {
    case 'copy':
      return { record: { kind: 'copy', ...base, sourceOffset: op.sourceOffset, sourceLength: op.targetLength, payloadLength: 0, codec: 'none' }, payload };
    case 'zero':
      return { record: { kind: 'zero', ...base, sourceOffset: 0, sourceLength: 0, payloadLength: 0, codec: 'none' }, payload };
    default:
      if (result.kind === 'bsdiff' && op.kind === 'diff') {
        return { record: { kind: 'bsdiff', ...base, sourceOffset: op.sourceOffset, sourceLength: op.sourceLength, payloadLength: payload.length, codec: 'none' }, payload };
      }
      return { record: { kind: 'replace', ...base, sourceOffset: 0, sourceLength: 0, payloadLength: payload.length, codec: result.codec ?? 'none' }, payload };
  }
}

export async function generateOpsDelta(options: GenerateOpsDeltaOptions): Promise<GeneratedOpsDelta> {
  const started = performance.now();
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  const maxOpBytes = options.maxOpBytes ?? DEFAULT_MAX_OP_BYTES;
  const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  if (maxOpBytes > MAX_OP_TARGET_BYTES / 2) throw new RangeError(`maxOpBytes must be <= ${MAX_OP_TARGET_BYTES / 2}`);
  const [sourceStat, targetStat] = await Promise.all([stat(options.sourcePath), stat(options.targetPath)]);
  const S = sourceStat.size;
  const T = targetStat.size;
  const bsdiffTool = resolveBsdiffTool(options.bsdiffEngine);
  const workers = options.workers ?? defaultWorkers(maxOpBytes, options.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET_BYTES, bsdiffTool ? 'native' : 'node');
  const signal = options.signal;
  signal?.throwIfAborted();

  const pool = new OpsWorkerPool(workers, { sourcePath: options.sourcePath, targetPath: options.targetPath, blockSize, scratchDir: options.scratchDir ?? tmpdir(), bsdiffTool });
  const onAbort = () => pool.kill();
  signal?.addEventListener('abort', onAbort, { once: true });
  const progress = (p: OpsGenerateProgress) => options.onProgress?.(p);
  try {
    // 1. digests and the source block index, in parallel with reading the tar layouts
    progress({ phase: 'hashing', bytesDone: 0, bytesTotal: S + T, opsDone: 0, opsTotal: 0 });
    let t0 = performance.now();
    let hashed = 0;
    const [source, target, members] = await Promise.all([
      pool.run<{ sha256: string; blockHashes: Int32Array }>({ kind: 'hashSource', blockSize }).then((r) => {
        progress({ phase: 'hashing', bytesDone: (hashed += S), bytesTotal: S + T, opsDone: 0, opsTotal: 0 });
        return r;
      }),
      pool.run<{ sha256: string }>({ kind: 'hashTarget' }).then((r) => {
        progress({ phase: 'hashing', bytesDone: (hashed += T), bytesTotal: S + T, opsDone: 0, opsTotal: 0 });
        return r;
      }),
      options.tar === 'off' ? undefined : memberPairs(options.sourcePath, options.targetPath),
    ]);
    const hashingMs = performance.now() - t0;

    // 2. scan target segments against the index
    t0 = performance.now();
    pool.broadcast({ type: 'index', blockHashes: source.blockHashes });
    const matches: number[] = [];
    const zeros: number[] = [];
    let scanned = 0;
    const segments: Promise<void>[] = [];
    for (let start = 0; start < T; start += segmentBytes) {
      const end = Math.min(T, start + segmentBytes);
      segments.push(
        pool.run<{ matches: number[]; zeros: number[] }>({ kind: 'scan', start, end }).then((r) => {
          for (const n of r.matches) matches.push(n);
          for (const n of r.zeros) zeros.push(n);
          progress({ phase: 'scanning', bytesDone: (scanned += end - start), bytesTotal: T, opsDone: 0, opsTotal: 0 });
        }),
      );
    }
    await Promise.all(segments);
    const plan = planOps({ targetLength: T, sourceLength: S, matches, zeros, members, maxOpBytes });
    const scanningMs = performance.now() - t0;

    // 3. compute ops in parallel, write them in order
    t0 = performance.now();
    const header: OpsHeader = {
      version: 1,
      flags: 0,
      blockSize,
      sourceLength: S,
      targetLength: T,
      sourceSha256: source.sha256,
      targetSha256: target.sha256,
      opCount: plan.length,
      maxOpTargetLength: plan.reduce((m, op) => Math.max(m, op.targetLength), 0),
      maxSourceExtentLength: plan.reduce((m, op) => Math.max(m, op.kind === 'diff' ? op.sourceLength : 0), 0),
    };
    const stats = Object.fromEntries(['copy', 'bsdiff', 'replace', 'zero'].map((k) => [k, { count: 0, bytes: 0, payloadBytes: 0 }])) as Record<OpRecord['kind'], OpKindStats>;
    const written = await writeAtomically(options.outPath, async (tempPath) => {
      const out = await open(tempPath, 'w');
      const fileHash = createHash('sha256');
      let length = 0;
      const write = async (buf: Buffer) => {
        fileHash.update(buf);
        for (let done = 0; done < buf.length; ) done += (await out.write(buf, done, buf.length - done)).bytesWritten;
        length += buf.length;
      };
      try {
        const headerBytes = encodeHeader(header);
        await write(headerBytes);
        let digest = startDigest(headerBytes);
        // Ops run ahead of the write position, bounded by held payload bytes (result-window.ts),
        // so one slow bsdiff op does not idle the other workers.
        const window = new ResultWindow(workers, DEFAULT_HELD_RESULT_BYTES);
        const inFlight = new Map<number, Promise<OpResult>>();
        let dispatched = 0;
        let bytesDone = 0;
        const dispatchAhead = (writing: number) => {
          for (; dispatched < plan.length && window.mayDispatch(dispatched - writing); dispatched++) {
            const op = plan[dispatched]!;
            const result = op.kind === 'zero' ? Promise.resolve({ sha256: zeroSha256(op.targetLength) }) : window.track(pool.run<OpResult>(jobFor(op)), resultBytes);
            result.catch(() => undefined); // awaited in order below; avoid unhandled rejections meanwhile
            inFlight.set(dispatched, result);
          }
        };
        let writePosition = 0;
        window.onChange = () => dispatchAhead(writePosition);
        for (let i = 0; i < plan.length; i++) {
          writePosition = i;
          dispatchAhead(i);
          const result = await inFlight.get(i)!;
          inFlight.delete(i);
          window.release(resultBytes(result));
          signal?.throwIfAborted();
          const { record, payload } = recordFor(i, plan[i]!, result);
          const recordBytes = encodeOp(record);
          await write(recordBytes);
          if (payload.length) await write(payload);
          digest = chainDigest(digest, recordBytes, payload.length ? createHash('sha256').update(payload).digest('hex') : EMPTY_SHA256);
          const s = stats[record.kind];
          s.count++;
          s.bytes += record.targetLength;
          s.payloadBytes += payload.length;
          bytesDone += record.targetLength;
          progress({ phase: 'writing', bytesDone, bytesTotal: T, opsDone: i + 1, opsTotal: plan.length });
        }
        if (bytesDone !== T) throw new OpsDeltaError('malformed', `internal: ops cover ${bytesDone} of ${T} target bytes`);
        await write(encodeTrailer({ opCount: plan.length, patchDigest: digest }));
        await out.sync();
      } finally {
        await out.close();
      }
      return { keep: true, value: { sha256: fileHash.digest('hex'), length } };
    });
    const writingMs = performance.now() - t0;
    const workerPeaks = await pool.close();
    const main = peakRssBytes();
    return {
      path: options.outPath,
      format: 'ops',
      sha256: written.sha256,
      length: written.length,
      sourceSha256: source.sha256,
      sourceLength: S,
      targetSha256: target.sha256,
      targetLength: T,
      opCount: plan.length,
      ops: stats,
      tarAligned: Boolean(members),
      workers,
      durationMs: performance.now() - started,
      phaseMs: { hashing: hashingMs, scanning: scanningMs, writing: writingMs },
      peakRssBytes: { main, workers: workerPeaks, total: main + workerPeaks.reduce((a, b) => a + b, 0) },
    };
  } catch (err) {
    pool.kill();
    if (signal?.aborted) throw signal.reason ?? err;
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
