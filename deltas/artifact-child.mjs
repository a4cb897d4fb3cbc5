// Child process that does the heavy delta/image work for deltas/run-child.ts, off the caller's
// event loop. A separate process rather than a worker thread because:
//  - bsdiff needs ~17x the old image in RAM and its C code calls exit() on malloc failure;
//    a crash or an OOM kill must not take the Temporal worker down;
//  - cancellation is a plain kill, even in the middle of the native suffix sort;
//  - the peak RSS of the process is exactly this job's peak memory (see peakRssBytes; plus the
//    ota-bsdiff run's when the diff runs there).
// The diff runs in ota-bsdiff (native/ota-bsdiff) when it is built: the same patch bytes as
// bsdiff-node in about half the memory, and it dies with this process (PR_SET_PDEATHSIG).
//
// Plain JavaScript on purpose: Node 20 cannot run TypeScript directly, and this file must be
// forkable both from sources (vitest) and from dist/, so both resolve it at <root>/deltas/.
//
// Protocol (IPC, JSON): parent sends one {type:'job', job}; the child answers with any number of
// {type:'progress', phase, bytesDone, bytesTotal}, then one {type:'result', result, peakRssBytes}
// or {type:'error', message}, and exits. Outputs go only to the paths the parent names (temp
// paths); the parent renames or deletes them.
// @ts-check
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import bsdiff from 'bsdiff-node';
import { createFullImageCompressor } from './full-image-compressor.mjs';
import { otaBsdiffPeakRssBytes, runOtaBsdiff } from './ota-bsdiff.mjs';
import { peakRssBytes } from './peak-rss.mjs';

const CHUNK = 1024 * 1024;

/** Latest progress, re-sent every tickMs so heartbeats continue through long silent native phases. */
let latest = null;
let lastSent = 0;
let tickMs = 1000;

function send(message) {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve(undefined);
    process.send(message, () => resolve(undefined));
  });
}

function progress(phase, bytesDone, bytesTotal, force = false) {
  latest = { type: 'progress', phase, bytesDone, bytesTotal };
  const now = Date.now();
  // Throttled: native callbacks fire once per percent, streams once per MiB.
  if (force || now - lastSent >= 200) {
    lastSent = now;
    void send(latest);
  }
}

/** sha256 of a file, streamed, reporting progress under `phase`. Offset lets two files share one total. */
async function hashFile(path, phase, offset = 0, total) {
  const size = (await stat(path)).size;
  const grandTotal = total ?? size;
  const hash = createHash('sha256');
  let done = 0;
  progress(phase, offset, grandTotal, true);
  for await (const chunk of createReadStream(path, { highWaterMark: CHUNK })) {
    hash.update(chunk);
    done += chunk.length;
    progress(phase, offset + done, grandTotal);
  }
  progress(phase, offset + done, grandTotal, true);
  return { sha256: hash.digest('hex'), length: size };
}

/** Wraps bsdiff-node's callback API: (percent, error) calls, error string empty on success. */
function runNative(fn, a, b, c, phase, total) {
  return new Promise((resolve, reject) => {
    progress(phase, 0, total, true);
    fn(a, b, c, (percent, error) => {
      if (error) return reject(new Error(String(error)));
      progress(phase, Math.floor((Number(percent) / 100) * total), total, percent >= 100);
      if (percent >= 100) resolve(undefined);
    }).catch(() => {
      // The promise wrapper rejects with the same error the callback already reported.
    });
  });
}

/** bsdiff patch header: "BSDIFF40", ctrl length, diff length, new size (8-byte sign-magnitude LE). */
async function readPatchHeader(patchPath) {
  const fh = await open(patchPath, 'r');
  try {
    const header = Buffer.alloc(32);
    const { bytesRead } = await fh.read(header, 0, 32, 0);
    if (bytesRead < 32 || header.toString('latin1', 0, 8) !== 'BSDIFF40') {
      throw new Error(`corrupt bsdiff patch ${patchPath}: missing BSDIFF40 header`);
    }
    const field = (at) => {
      const magnitude = header.readBigUInt64LE(at) & 0x7fffffffffffffffn;
      return header[at + 7] & 0x80 ? -magnitude : magnitude;
    };
    const ctrl = field(8);
    const diff = field(16);
    const newSize = field(24);
    const size = (await fh.stat()).size;
    if (ctrl < 0n || diff < 0n || newSize < 0n || 32n + ctrl + diff > BigInt(size)) {
      throw new Error(`corrupt bsdiff patch ${patchPath}: header lengths do not fit the ${size}-byte file`);
    }
    return { newSize: Number(newSize) };
  } finally {
    await fh.close();
  }
}

function describeNativeError(error, patchPath) {
  return /Corrupt patch/.test(error.message) ? new Error(`corrupt bsdiff patch ${patchPath}: bspatch rejected its contents`) : error;
}

/** ota-bsdiff (native/ota-bsdiff): no progress of its own; the progress tick keeps heartbeats going. */
async function runBsdiffTool(tool, oldPath, newPath, patchPath, total) {
  progress('diffing', 0, total, true);
  await runOtaBsdiff(tool, [oldPath, newPath, patchPath]);
  progress('diffing', total, total, true);
}

const jobs = {
  /** old + new -> bsdiff patch; hashes both inputs (reading) and the patch (hashing). */
  async diff({ oldPath, newPath, patchPath, bsdiffTool }) {
    const oldSize = (await stat(oldPath)).size;
    const newSize = (await stat(newPath)).size;
    const from = await hashFile(oldPath, 'reading', 0, oldSize + newSize);
    const to = await hashFile(newPath, 'reading', oldSize, oldSize + newSize);
    const started = Date.now();
    if (bsdiffTool) await runBsdiffTool(bsdiffTool, oldPath, newPath, patchPath, newSize);
    else await runNative(bsdiff.diff, oldPath, newPath, patchPath, 'diffing', newSize);
    const diffMs = Date.now() - started;
    const patch = await hashFile(patchPath, 'hashing');
    return { fromSha256: from.sha256, fromLength: from.length, toSha256: to.sha256, toLength: to.length, sha256: patch.sha256, length: patch.length, diffMs };
  },

  /** old + patch -> new; refuses outputs larger than maxOutputBytes before allocating them. */
  async apply({ oldPath, patchPath, outPath, maxOutputBytes }) {
    const { newSize } = await readPatchHeader(patchPath);
    if (newSize > maxOutputBytes) {
      throw new Error(`bsdiff patch ${patchPath} declares a ${newSize}-byte output, over the ${maxOutputBytes}-byte limit`);
    }
    const started = Date.now();
    try {
      await runNative(bsdiff.patch, oldPath, outPath, patchPath, 'patching', newSize);
    } catch (err) {
      throw describeNativeError(/** @type {Error} */ (err), patchPath);
    }
    const patchMs = Date.now() - started;
    const out = await hashFile(outPath, 'hashing');
    return { sha256: out.sha256, length: out.length, patchMs };
  },

  /** image -> gzip/brotli stream; hashes raw and compressed bytes in the same pass. */
  async compress({ imagePath, outPath, compression, level }) {
    const total = (await stat(imagePath)).size;
    const raw = createHash('sha256');
    const packed = createHash('sha256');
    let rawDone = 0;
    let packedLength = 0;
    const tapRaw = new Transform({
      transform(chunk, _enc, cb) {
        raw.update(chunk);
        rawDone += chunk.length;
        progress('compressing', rawDone, total);
        cb(null, chunk);
      },
    });
    const tapPacked = new Transform({
      transform(chunk, _enc, cb) {
        packed.update(chunk);
        packedLength += chunk.length;
        cb(null, chunk);
      },
    });
    const compressor = createFullImageCompressor(compression, { level, sizeHint: total });
    progress('compressing', 0, total, true);
    await pipeline(createReadStream(imagePath, { highWaterMark: CHUNK }), tapRaw, compressor, tapPacked, createWriteStream(outPath));
    progress('compressing', total, total, true);
    return { sha256: raw.digest('hex'), length: rawDone, compressedSha256: packed.digest('hex'), compressedLength: packedLength };
  },
};

// Orphan protection: if the parent goes away, so does the job.
let finished = false;
process.on('disconnect', () => {
  if (!finished) process.exit(1);
});

process.once('message', async (/** @type {any} */ message) => {
  tickMs = message.tickMs ?? tickMs;
  const ticker = setInterval(() => {
    if (latest) {
      lastSent = Date.now();
      void send(latest);
    }
  }, tickMs);
  const started = Date.now();
  try {
    const run = jobs[/** @type {keyof typeof jobs} */ (message.job?.kind)];
    if (!run) throw new Error(`unknown job kind ${JSON.stringify(message.job?.kind)}`);
    const result = await run(message.job);
    clearInterval(ticker);
    await send({ type: 'result', result, durationMs: Date.now() - started, peakRssBytes: peakRssBytes() + otaBsdiffPeakRssBytes() });
  } catch (err) {
    clearInterval(ticker);
    await send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  }
  finished = true;
  process.disconnect();
});
