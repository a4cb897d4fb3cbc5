// applyOpsDelta: streams an ops patch onto a source image. The patch is read once, front to back;
// the source is read by extent; the target is written in order to a partial file that is renamed
// only after the trailer's digest checks out. Every op's output is checked against its sha256
// before the next op starts. Memory: one I/O buffer plus, for BSDIFF ops, bspatch's copy of the
// op's source extent and output (both bounded by the header), whatever the image size.
// Resume: onCheckpoint hands out a small record after the output is fdatasync'ed; passing it
// back as resumeFrom continues with the next op (the partial file must still be there).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress } from 'node:zlib';
import { z } from 'zod';
import { checkBsdiffHeader, copyExtent, removeScratch, runBspatch, scratchFiles } from './bspatch-extent.js';
import { PatchByteReader } from './byte-reader.js';
import { OpsDeltaError } from './errors.js';
import { decodeHeader, decodeOp, decodeTrailer, HEADER_BYTES, OP_RECORD_BYTES, TRAILER_BYTES, type OpRecord, type OpsHeader } from './format.js';
import { chainDigest, EMPTY_SHA256, startDigest } from './patch-digest.js';
import { peakRssBytes } from '#deltas/peak-rss.mjs';

const IO_BYTES = 1024 * 1024;
export const DEFAULT_CHECKPOINT_BYTES = 16 * 1024 * 1024;

/** What a caller persists to resume after a power cut (JSON-safe). */
export const opsApplyCheckpointSchema = z
  .object({
    format: z.literal('ops-apply-checkpoint/1'),
    /** Next op to apply, and where its record starts in the patch. */
    opIndex: z.number().int().min(0),
    patchOffset: z.number().int().min(HEADER_BYTES),
    /** Target bytes written and fdatasync'ed. */
    targetOffset: z.number().int().min(0),
    /** Patch digest chain after the ops applied so far. */
    digest: z.string().regex(/^[0-9a-f]{64}$/),
    /** The patch header (base64): sizes and digests without re-reading the patch from the start. */
    header: z.string().min(1),
  })
  .strict();
export type OpsApplyCheckpoint = z.infer<typeof opsApplyCheckpointSchema>;

export interface OpsApplyProgress {
  opIndex: number;
  opCount: number;
  targetOffset: number;
  targetLength: number;
}

export interface ApplyOpsDeltaOptions {
  sourcePath: string;
  /** The patch file; or openPatch for other transports (e.g. an HTTP Range request from `start`). */
  patchPath?: string;
  openPatch?: (start: number) => AsyncIterable<Buffer | Uint8Array>;
  outPath: string;
  /** 'full' (default): hash the whole source before writing anything; 'extent': rely on each op's sha256. */
  sourceCheck?: 'full' | 'extent';
  resumeFrom?: OpsApplyCheckpoint;
  onProgress?: (progress: OpsApplyProgress) => void;
  /** Called after the output is durable (fdatasync), at most every checkpointBytes of target. */
  onCheckpoint?: (checkpoint: OpsApplyCheckpoint) => void | Promise<void>;
  checkpointBytes?: number;
  /** bspatch scratch files (default: the output's folder). */
  scratchDir?: string;
  signal?: AbortSignal;
}

export interface AppliedOpsDelta {
  path: string;
  sha256: string;
  length: number;
  opCount: number;
  /** The op this run started at (0 unless resumed). */
  resumedFromOp: number;
  sourceCheckMs: number;
  durationMs: number;
  peakRssBytes: number;
}

/** Deterministic, so a resumed run finds the partial output of the interrupted one. */
export function partialPathFor(outPath: string): string {
  return join(dirname(outPath), `.${basename(outPath)}.ops-partial`);
}

async function sha256OfFile(fh: FileHandle, length: number, buffer: Buffer): Promise<string> {
  const hash = createHash('sha256');
  for (let pos = 0; pos < length; ) {
    const { bytesRead } = await fh.read(buffer, 0, Math.min(buffer.length, length - pos), pos);
    if (bytesRead === 0) break;
    hash.update(buffer.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return hash.digest('hex');
}

/** Reads the first bytes of a patch file (resume: compare with the recorded header). */
async function readHead(path: string, n: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

class OpWriter {
  readonly hash = createHash('sha256');
  written = 0;
  constructor(
    private readonly out: FileHandle,
    private readonly op: OpRecord,
  ) {}

  async write(buf: Buffer): Promise<void> {
    if (this.written + buf.length > this.op.targetLength) {
      throw new OpsDeltaError('corrupt-payload', `op ${this.op.index} (${this.op.kind}) produces more than its ${this.op.targetLength} bytes`);
    }
    this.hash.update(buf);
    const at = this.op.targetOffset + this.written;
    for (let done = 0; done < buf.length; ) done += (await this.out.write(buf, done, buf.length - done, at + done)).bytesWritten;
    this.written += buf.length;
  }

  finish(sourceChecked: boolean): void {
    if (this.written !== this.op.targetLength) {
      throw new OpsDeltaError('corrupt-payload', `op ${this.op.index} (${this.op.kind}) produced ${this.written} bytes, expected ${this.op.targetLength}`);
    }
    const actual = this.hash.digest('hex');
    if (actual !== this.op.sha256) {
      const hint = this.op.kind === 'copy' && !sourceChecked ? ' (a different source image, or a corrupt patch)' : '';
      throw new OpsDeltaError('op-hash-mismatch', `op ${this.op.index} (${this.op.kind}) wrote bytes with sha256 ${actual}, the patch says ${this.op.sha256}${hint}`);
    }
  }
}

export async function applyOpsDelta(options: ApplyOpsDeltaOptions): Promise<AppliedOpsDelta> {
  const started = performance.now();
  const openPatch = options.openPatch ?? (options.patchPath ? (start: number) => createReadStream(options.patchPath!, start > 0 ? { start, highWaterMark: 256 * 1024 } : { highWaterMark: 256 * 1024 }) : undefined); // no position at 0: a FIFO works too
  if (!openPatch) throw new TypeError('applyOpsDelta needs patchPath or openPatch');
  const resume = options.resumeFrom ? opsApplyCheckpointSchema.parse(options.resumeFrom) : undefined;
  const partialPath = partialPathFor(options.outPath);
  const scratch = scratchFiles(join(options.scratchDir ?? dirname(options.outPath), `.${basename(options.outPath)}.ops-${process.pid}`));
  const buffer = Buffer.allocUnsafe(IO_BYTES);
  const signal = options.signal;

  const reader = new PatchByteReader(openPatch(resume?.patchOffset ?? 0)[Symbol.asyncIterator](), resume?.patchOffset ?? 0);
  let headerBytes: Buffer;
  if (resume) {
    headerBytes = Buffer.from(resume.header, 'base64');
    if (options.patchPath && !(await readHead(options.patchPath, HEADER_BYTES)).equals(headerBytes)) {
      throw new OpsDeltaError('bad-resume', `the checkpoint was recorded for another patch than ${options.patchPath}`);
    }
  } else headerBytes = await reader.readExact(HEADER_BYTES, 'the header');
  const header: OpsHeader = decodeHeader(headerBytes);

  // Wrong source: refuse before the output exists.
  const source = await open(options.sourcePath, 'r');
  let out: FileHandle | undefined;
  let keepPartial = false;
  try {
    const sourceLength = (await source.stat()).size;
    if (sourceLength !== header.sourceLength) {
      throw new OpsDeltaError('source-mismatch', `source ${options.sourcePath} is ${sourceLength} bytes; the patch was made from a ${header.sourceLength}-byte image ${header.sourceSha256}`);
    }
    const sourceCheck = options.sourceCheck ?? 'full';
    const checkStarted = performance.now();
    if (sourceCheck === 'full') {
      const actual = await sha256OfFile(source, sourceLength, buffer);
      if (actual !== header.sourceSha256) {
        throw new OpsDeltaError('source-mismatch', `source ${options.sourcePath} has sha256 ${actual}; the patch was made from ${header.sourceSha256}`);
      }
    }
    const sourceCheckMs = performance.now() - checkStarted;

    let opIndex = resume?.opIndex ?? 0;
    let targetOffset = resume?.targetOffset ?? 0;
    let digest = resume?.digest ?? startDigest(headerBytes);
    if (resume) {
      if (resume.opIndex > header.opCount || resume.targetOffset > header.targetLength) throw new OpsDeltaError('bad-resume', 'the checkpoint lies beyond the end of this patch');
      const partialSize = await stat(partialPath).then((s) => s.size, () => -1);
      if (partialSize < resume.targetOffset) {
        throw new OpsDeltaError('bad-resume', `partial output ${partialPath} ${partialSize < 0 ? 'is missing' : `has ${partialSize} bytes`}; the checkpoint needs ${resume.targetOffset}`);
      }
      out = await open(partialPath, 'r+');
      await out.truncate(resume.targetOffset);
    } else {
      out = await open(partialPath, 'w');
    }
    keepPartial = true; // from here an interruption leaves a resumable partial file

    const checkpointBytes = options.checkpointBytes ?? DEFAULT_CHECKPOINT_BYTES;
    let lastCheckpoint = targetOffset;
    const checkpoint = async (nextOp: number) => {
      await out!.datasync();
      lastCheckpoint = targetOffset;
      await options.onCheckpoint?.({ format: 'ops-apply-checkpoint/1', opIndex: nextOp, patchOffset: reader.position, targetOffset, digest, header: headerBytes.toString('base64') });
    };

    for (; opIndex < header.opCount; opIndex++) {
      signal?.throwIfAborted();
      const recordBytes = await reader.readExact(OP_RECORD_BYTES, `op ${opIndex}`);
      if (recordBytes.subarray(0, 8).toString('latin1') === 'OTAEND\r\n') {
        throw new OpsDeltaError('truncated', `the patch ends after ${opIndex} of ${header.opCount} ops`);
      }
      const op = decodeOp(recordBytes);
      if (op.index !== opIndex || op.targetOffset !== targetOffset) {
        throw new OpsDeltaError('out-of-order', `op ${op.index} writes at ${op.targetOffset}; expected op ${opIndex} at ${targetOffset} (reordered or missing ops)`);
      }
      if (op.targetOffset + op.targetLength > header.targetLength || op.targetLength > header.maxOpTargetLength) {
        throw new OpsDeltaError('past-target-end', `op ${op.index} writes ${op.targetLength} bytes at ${op.targetOffset}, past the ${header.targetLength}-byte target or its ${header.maxOpTargetLength}-byte op limit`);
      }
      if ((op.kind === 'copy' || op.kind === 'bsdiff') && op.sourceOffset + op.sourceLength > header.sourceLength) {
        throw new OpsDeltaError('malformed', `op ${op.index} reads source bytes ${op.sourceOffset}..${op.sourceOffset + op.sourceLength}, past the ${header.sourceLength}-byte source`);
      }
      if (op.kind === 'bsdiff' && op.sourceLength > header.maxSourceExtentLength) {
        throw new OpsDeltaError('malformed', `op ${op.index} reads a ${op.sourceLength}-byte source extent, over the header's ${header.maxSourceExtentLength}`);
      }
      const writer = new OpWriter(out, op);
      const payloadHash = createHash('sha256');
      const payload = async function* () {
        for await (const chunk of reader.chunksOf(op.payloadLength, `op ${op.index}'s payload`)) {
          payloadHash.update(chunk);
          yield chunk;
        }
      };
      switch (op.kind) {
        case 'copy':
          for (let done = 0; done < op.targetLength; ) {
            const n = Math.min(buffer.length, op.targetLength - done);
            const { bytesRead } = await source.read(buffer, 0, n, op.sourceOffset + done);
            if (bytesRead === 0) throw new OpsDeltaError('source-mismatch', `source ended at ${op.sourceOffset + done}`);
            await writer.write(buffer.subarray(0, bytesRead));
            done += bytesRead;
          }
          break;
        case 'zero': {
          buffer.fill(0);
          for (let done = 0; done < op.targetLength; ) {
            const n = Math.min(buffer.length, op.targetLength - done);
            await writer.write(buffer.subarray(0, n));
            done += n;
          }
          break;
        }
        case 'replace':
          if (op.codec === 'none') {
            for await (const chunk of payload()) await writer.write(chunk);
          } else {
            try {
              await pipeline(payload, createBrotliDecompress(), async (decoded: AsyncIterable<Buffer>) => {
                for await (const chunk of decoded) await writer.write(chunk);
              });
            } catch (err) {
              if (err instanceof OpsDeltaError) throw err;
              throw new OpsDeltaError('corrupt-payload', `op ${op.index}: brotli payload does not decode (${err instanceof Error ? err.message : String(err)})`);
            }
          }
          break;
        case 'bsdiff': {
          try {
            const patchFile = await open(scratch.patch, 'w');
            try {
              for await (const chunk of payload()) await patchFile.write(chunk);
            } finally {
              await patchFile.close();
            }
            checkBsdiffHeader(await readHead(scratch.patch, 32), op.payloadLength, op.targetLength, op.index);
            await copyExtent(source, op.sourceOffset, op.sourceLength, scratch.old, buffer);
            await runBspatch(scratch, op.index);
            const produced = await open(scratch.out, 'r');
            try {
              for (let done = 0; ; ) {
                const { bytesRead } = await produced.read(buffer, 0, buffer.length, done);
                if (bytesRead === 0) break;
                await writer.write(buffer.subarray(0, bytesRead));
                done += bytesRead;
              }
            } finally {
              await produced.close();
            }
          } finally {
            await removeScratch(scratch);
          }
          break;
        }
      }
      writer.finish(sourceCheck === 'full');
      digest = chainDigest(digest, recordBytes, op.payloadLength ? payloadHash.digest('hex') : EMPTY_SHA256);
      targetOffset += op.targetLength;
      options.onProgress?.({ opIndex: opIndex + 1, opCount: header.opCount, targetOffset, targetLength: header.targetLength });
      if (options.onCheckpoint && targetOffset - lastCheckpoint >= checkpointBytes) await checkpoint(opIndex + 1);
    }
    if (targetOffset !== header.targetLength) {
      throw new OpsDeltaError('malformed', `the ops write ${targetOffset} bytes; the header declares ${header.targetLength}`);
    }
    const trailer = decodeTrailer(await reader.readExact(TRAILER_BYTES, 'the trailer'));
    if (trailer.opCount !== header.opCount || trailer.patchDigest !== digest) {
      throw new OpsDeltaError('patch-digest-mismatch', `the trailer's digest ${trailer.patchDigest} does not match the ${header.opCount} ops read (${digest}): the patch was altered`);
    }
    if (!(await reader.atEnd())) throw new OpsDeltaError('trailing-data', 'bytes follow the trailer');
    await out.sync();
    await out.close();
    out = undefined;
    await rename(partialPath, options.outPath);
    keepPartial = false;
    return {
      path: options.outPath,
      sha256: header.targetSha256,
      length: header.targetLength,
      opCount: header.opCount,
      resumedFromOp: resume?.opIndex ?? 0,
      sourceCheckMs,
      durationMs: performance.now() - started,
      peakRssBytes: peakRssBytes(),
    };
  } catch (err) {
    // A bad patch or source leaves nothing behind; an abort keeps the partial file for a resume.
    if (keepPartial && !signal?.aborted) {
      await out?.close().catch(() => undefined);
      out = undefined;
      await rm(partialPath, { force: true });
    }
    throw err;
  } finally {
    await out?.close().catch(() => undefined);
    await source.close();
  }
}
