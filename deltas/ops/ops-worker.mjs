// Worker process for generateOpsDelta (deltas/ops/generate.ts): hashes, the source block index,
// rolling-hash scans of target segments, and per-op payloads (bsdiff of a source extent into a
// target extent, or brotli). The bsdiff itself runs in ota-bsdiff (native/ota-bsdiff: same
// BSDIFF40 bytes, faster suffix sort, ~6 x the extent in memory instead of ~18 x) when it is built. One job at a time; every job touches at most one chunk of each
// image, so the process's memory is bounded by the chunk size, not the image size.
//
// A child process rather than a worker thread for the reasons in deltas/artifact-child.mjs:
// bsdiff's C code calls exit() when malloc fails, and a kill must cost only this job.
// Plain JavaScript so sources (vitest) and dist/ both fork it at <root>/deltas/ops/.
//
// Protocol (IPC, advanced serialization): parent sends {type:'init'}, optionally {type:'index'},
// then {type:'job', id, job}...; child answers {type:'result', id, result} or {type:'error', id,
// message} per job; on {type:'exit'} it answers {type:'bye', peakRssBytes} and exits.
// @ts-check
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, deflateRawSync, constants as zlib } from 'node:zlib';
import bsdiff from 'bsdiff-node';
import { otaBsdiffPeakRssBytes, runOtaBsdiff } from '../ota-bsdiff.mjs';
import { peakRssBytes } from '../peak-rss.mjs';

// Rolling polynomial hash over a blockSize window: h = sum(b[i] * P^(W-1-i)) mod 2^32.
// An all-zero window hashes to 0, which lets the scan spot zero runs for free.
const P = 0x01000193;
const PIECE = 256 * 1024;
const MAX_CANDIDATES = 8;

/** @type {{ sourcePath: string, targetPath: string, sourceFd: number, targetFd: number, sourceLength: number, targetLength: number, blockSize: number, scratchDir: string, pw1: number, bsdiffTool?: string }} */
let ctx;
/** Open-addressing table: keys = block hash, vals = block index + 1 (0 = empty). */
let keys = new Int32Array(0);
let vals = new Int32Array(0);
let shift = 32;
let scratchSeq = 0;

// Reused per purpose: allocating a fresh segment/extent buffer per job lets freed-but-not-yet-
// collected Buffers pile up (V8 collects external memory lazily), so peak RSS crept up with the
// number of jobs, i.e. with the image size. One buffer per purpose keeps it at the largest job.
const reusable = new Map();
function bufferFor(purpose, length) {
  let buf = reusable.get(purpose);
  if (!buf || buf.length < length) {
    buf = Buffer.allocUnsafe(length);
    reusable.set(purpose, buf);
  }
  return buf.subarray(0, length);
}

function readFully(fd, buf, length, position) {
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) throw new Error(`unexpected end of file at ${position + done}`);
    done += n;
  }
  return buf.subarray(0, length);
}

function blockHash(buf, from, to) {
  let h = 0;
  for (let i = from; i < to; i++) h = (Math.imul(h, P) + buf[i]) | 0;
  return h;
}

function isZero(buf, from, to) {
  for (let i = from; i < to; i++) if (buf[i] !== 0) return false;
  return true;
}

function slotOf(h) {
  return shift >= 32 ? 0 : Math.imul(h, 0x9e3779b1) >>> shift;
}

/** Builds the lookup table from per-block hashes (0 = zero block or unindexed). */
function buildTable(blockHashes) {
  const n = blockHashes.length;
  let capacity = 1;
  while (capacity < n * 2) capacity *= 2;
  keys = new Int32Array(capacity);
  vals = new Int32Array(capacity);
  shift = 32 - Math.log2(capacity);
  const mask = capacity - 1;
  for (let b = 0; b < n; b++) {
    const h = blockHashes[b];
    if (h === 0) continue;
    let slot = slotOf(h);
    let same = 0;
    // Repeated blocks (padding patterns) would make long probe runs; a few copies are enough.
    while (vals[slot] !== 0 && same < MAX_CANDIDATES) {
      if (keys[slot] === h) same++;
      slot = (slot + 1) & mask;
    }
    if (same >= MAX_CANDIDATES) continue;
    keys[slot] = h;
    vals[slot] = b + 1;
  }
}

function sha256(buf) {
  return createHash('sha256').update(buf).digest('hex');
}

/** Streams a whole file once: sha256, and per-block hashes when blockSize is given. */
function hashFile(fd, length, blockSize) {
  const hash = createHash('sha256');
  const blocks = blockSize ? new Int32Array(Math.floor(length / blockSize)) : undefined;
  const chunk = bufferFor('io', blockSize ? Math.max(blockSize, Math.floor((4 * 1024 * 1024) / blockSize) * blockSize) : 4 * 1024 * 1024);
  for (let pos = 0; pos < length; ) {
    const n = Math.min(chunk.length, length - pos);
    const data = readFully(fd, chunk, n, pos);
    hash.update(data);
    if (blocks) {
      for (let at = 0; at + blockSize <= n; at += blockSize) {
        const h = blockHash(data, at, at + blockSize);
        blocks[(pos + at) / blockSize] = h === 0 || isZero(data, at, at + blockSize) ? 0 : h;
      }
    }
    pos += n;
  }
  return { sha256: hash.digest('hex'), length, blockHashes: blocks };
}

/**
 * Finds target regions in [start, end) that exist verbatim in the source (rsync-style: the
 * target is rolled byte by byte against the index of aligned source blocks, hits are verified
 * byte for byte and extended both ways) and runs of zeros. Returns flat [t, s, len]... and [t, len]...
 */
function scan({ start, end }) {
  const W = ctx.blockSize;
  const readEnd = Math.min(end + W - 1, ctx.targetLength);
  const buf = readFully(ctx.targetFd, bufferFor('segment', readEnd - start), readEnd - start, start);
  const n = end - start;
  const S = ctx.sourceLength;
  const mask = keys.length - 1;
  const block = bufferFor('block', W);
  const piece = bufferFor('piece', PIECE);
  const candidates = new Int32Array(MAX_CANDIDATES);
  const matches = [];
  const zeros = [];
  let covered = 0;
  let lastDelta = NaN;
  let h = 0;
  let fresh = true;
  let i = 0;
  while (i < n && i + W <= buf.length) {
    if (fresh) {
      h = blockHash(buf, i, i + W);
      fresh = false;
    }
    if (h === 0 && isZero(buf, i, i + W)) {
      let zs = i;
      while (zs > covered && buf[zs - 1] === 0) zs--;
      let ze = i + W;
      while (ze < n && buf[ze] === 0) ze++;
      zeros.push(start + zs, ze - zs);
      covered = i = ze;
      fresh = true;
      continue;
    }
    let found = -1;
    if (keys.length) {
      let count = 0;
      for (let slot = slotOf(h); vals[slot] !== 0 && count < MAX_CANDIDATES; slot = (slot + 1) & mask) {
        if (keys[slot] === h) candidates[count++] = vals[slot] - 1;
      }
      // Repeated content has several candidates: try the one nearest to where this byte should be
      // first, i.e. continuing the previous match's offset, or (no match yet in this segment) at
      // the same relative position in the source. So the N-th copy of a binary matches the N-th
      // copy in the source, which keeps the matches in image order for the planner's anchors.
      if (count > 1) {
        const guess = Number.isNaN(lastDelta) ? ((start + i) * S) / ctx.targetLength : start + i + lastDelta;
        for (let c = 1; c < count; c++) {
          const candidate = candidates[c];
          const distance = Math.abs(candidate * W - guess);
          let d = c;
          for (; d > 0 && Math.abs(candidates[d - 1] * W - guess) > distance; d--) candidates[d] = candidates[d - 1];
          candidates[d] = candidate;
        }
      }
      for (let c = 0; c < count && found < 0; c++) {
        const s = candidates[c] * W;
        if (readFully(ctx.sourceFd, block, W, s).equals(buf.subarray(i, i + W))) found = s;
      }
    }
    if (found >= 0) {
      // Backward into the not-yet-covered bytes, forward to the segment end.
      const backLimit = Math.min(i - covered, found, 2 * W);
      let back = 0;
      if (backLimit > 0) {
        const before = readFully(ctx.sourceFd, piece, backLimit, found - backLimit);
        while (back < backLimit && before[backLimit - 1 - back] === buf[i - 1 - back]) back++;
      }
      let e = i + W;
      let se = found + W;
      while (e < n && se < S) {
        const len = Math.min(PIECE, n - e, S - se);
        const src = readFully(ctx.sourceFd, piece, len, se);
        if (src.equals(buf.subarray(e, e + len))) {
          e += len;
          se += len;
          continue;
        }
        let k = 0;
        while (src[k] === buf[e + k]) k++;
        e += k;
        break;
      }
      matches.push(start + i - back, found - back, e - (i - back));
      lastDelta = found - (start + i);
      covered = i = e;
      fresh = true;
      continue;
    }
    if (i + W >= buf.length) break;
    h = (Math.imul(h - Math.imul(buf[i], ctx.pw1), P) + buf[i + W]) | 0;
    i++;
  }
  return { matches, zeros };
}

function hashRange(fd, offset, length) {
  const hash = createHash('sha256');
  const buf = bufferFor('io', Math.min(length, 4 * 1024 * 1024));
  for (let pos = 0; pos < length; ) {
    const n = Math.min(buf.length, length - pos);
    hash.update(readFully(fd, buf, n, offset + pos));
    pos += n;
  }
  return hash.digest('hex');
}

function brotli(data) {
  return brotliCompressSync(data, {
    params: {
      // Quality 7: within 0.5% of 9 on code, half the encoder memory (~22 MB instead of ~44 MB for a
      // 4 MiB op), which is most of a worker's own peak.
      [zlib.BROTLI_PARAM_QUALITY]: 7,
      [zlib.BROTLI_PARAM_LGWIN]: 22, // 4 MiB window: an op's length; 24 would cost the encoder ~4x the memory
      [zlib.BROTLI_PARAM_SIZE_HINT]: data.length,
    },
  });
}

const INCOMPRESSIBLE_RATIO = 0.97;

function isIncompressible(data) {
  return data.length >= 64 * 1024 && deflateRawSync(data, { level: 1 }).length > INCOMPRESSIBLE_RATIO * data.length;
}

/** REPLACE payload: brotli, or the raw bytes when brotli does not help. */
function replacePayload(target) {
  const packed = brotli(target);
  // Copy the raw bytes: `target` is a reused buffer.
  return packed.length < target.length ? { kind: 'replace', codec: 'brotli', payload: packed } : { kind: 'replace', codec: 'none', payload: Buffer.from(target) };
}

const jobs = {
  hashSource({ blockSize }) {
    return hashFile(ctx.sourceFd, ctx.sourceLength, blockSize);
  },
  hashTarget() {
    return hashFile(ctx.targetFd, ctx.targetLength, 0);
  },
  scan,
  copy({ targetOffset, targetLength }) {
    return { sha256: hashRange(ctx.targetFd, targetOffset, targetLength) };
  },
  zero({ targetLength }) {
    return { sha256: sha256(Buffer.alloc(targetLength)) };
  },
  replace({ targetOffset, targetLength }) {
    const target = readFully(ctx.targetFd, bufferFor('target', targetLength), targetLength, targetOffset);
    return { sha256: sha256(target), ...replacePayload(target) };
  },
  /** bsdiff of one source extent into one target extent: ota-bsdiff when built, else bsdiff-node. */
  async diff({ targetOffset, targetLength, sourceOffset, sourceLength }) {
    const target = readFully(ctx.targetFd, bufferFor('target', targetLength), targetLength, targetOffset);
    // Already-compressed bytes the scan found nowhere in the source (a new compressed or encrypted
    // section): bsdiff cannot shrink them either, and its byte-by-byte search is at its slowest
    // there. A fast deflate probe (~20 ms per MiB) spots them.
    if (isIncompressible(target)) return { sha256: sha256(target), ...replacePayload(target) };
    const base = join(ctx.scratchDir, `.ops-${process.pid}-${scratchSeq++}`);
    const [oldPath, newPath, patchPath] = [`${base}.old`, `${base}.new`, `${base}.patch`];
    let payload;
    try {
      if (ctx.bsdiffTool) {
        // Reads both extents from the images itself: no scratch copies.
        await runOtaBsdiff(ctx.bsdiffTool, [`--old-range=${sourceOffset}:${sourceLength}`, `--new-range=${targetOffset}:${targetLength}`, ctx.sourcePath, ctx.targetPath, patchPath]);
      } else {
        // bsdiff-node is file based: scratch copies of both extents.
        writeFileSync(oldPath, readFully(ctx.sourceFd, bufferFor('source', sourceLength), sourceLength, sourceOffset));
        writeFileSync(newPath, target);
        await bsdiff.diff(oldPath, newPath, patchPath);
      }
      payload = readFileSync(patchPath);
    } finally {
      for (const p of [oldPath, newPath, patchPath]) rmSync(p, { force: true });
    }
    const sha = sha256(target);
    // Little in common with the source extent: compressed bytes may be smaller than a bsdiff.
    if (payload.length > 0.3 * targetLength) {
      const replace = replacePayload(target);
      if (replace.payload.length < payload.length) return { sha256: sha, ...replace };
    }
    return { sha256: sha, kind: 'bsdiff', codec: 'none', payload };
  },
};

function send(message) {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve(undefined);
    process.send(message, () => resolve(undefined));
  });
}

process.on('disconnect', () => process.exit(1));

let queue = Promise.resolve();
process.on('message', (/** @type {any} */ message) => {
  queue = queue.then(async () => {
    if (message.type === 'init') {
      const sourceFd = openSync(message.sourcePath, 'r');
      const targetFd = openSync(message.targetPath, 'r');
      let pw1 = 1;
      for (let k = 0; k < message.blockSize - 1; k++) pw1 = Math.imul(pw1, P);
      ctx = {
        sourcePath: message.sourcePath,
        targetPath: message.targetPath,
        sourceFd,
        targetFd,
        sourceLength: fstatSync(sourceFd).size,
        targetLength: fstatSync(targetFd).size,
        blockSize: message.blockSize,
        scratchDir: message.scratchDir,
        bsdiffTool: message.bsdiffTool,
        pw1,
      };
    } else if (message.type === 'index') {
      const bytes = message.blockHashes;
      buildTable(new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
    } else if (message.type === 'job') {
      try {
        const run = jobs[/** @type {keyof typeof jobs} */ (message.job.kind)];
        if (!run) throw new Error(`unknown job kind ${message.job.kind}`);
        await send({ type: 'result', id: message.id, result: await run(message.job) });
        // Payload buffers are external memory, which V8 collects lazily: without this the
        // worker's peak crept up with the number of ops, i.e. with the image size.
        if (typeof globalThis.gc === 'function' && ['diff', 'replace', 'scan'].includes(message.job.kind)) globalThis.gc();
      } catch (err) {
        await send({ type: 'error', id: message.id, message: err instanceof Error ? err.message : String(err) });
      }
    } else if (message.type === 'exit') {
      if (ctx) {
        closeSync(ctx.sourceFd);
        closeSync(ctx.targetFd);
      }
      await send({ type: 'bye', peakRssBytes: peakRssBytes() + otaBsdiffPeakRssBytes() });
      process.disconnect();
    }
  });
});
