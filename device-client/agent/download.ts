// Resumable download of one artifact to a file, for links that drop: the bytes go to `<path>.part`
// as they arrive (fsynced after every attempt), a later attempt — in this run or after a restart —
// asks for the rest with `Range: bytes=N-`, and attempts back off exponentially with full jitter.
// The length and sha256 come from the signed manifest: more bytes than pinned are refused at once
// (endless data), a stall or a trickle below download.minBytesPerSecond aborts the attempt (slow
// retrieval, DOWNLOAD_TOO_SLOW when the attempts run out), and a complete file whose digest is
// wrong is deleted so the next try starts clean instead of failing forever on the same bytes.
// Streams chunk by chunk: the artifact is never held in memory.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, rm, stat, truncate } from 'node:fs/promises';
import { describeFetchError } from '../gateway/gateway-client.js';
import type { FetchLike } from '../../platform/tls-fetch.js';

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  stallTimeoutMs: number;
  /** Fewer bytes than this per second over a stallTimeoutMs window aborts the attempt (a trickle); default 0: only a window without any byte does. */
  minBytesPerSecond?: number;
}

export interface DownloadRequest extends RetryPolicy {
  url: string;
  /** How the bytes travel (the gateway client's: pinned CA, client certificate); default global fetch. */
  fetch?: FetchLike;
  /** Where the complete, verified file ends up; the partial file is `${path}.part`. */
  path: string;
  length: number;
  sha256: string;
  /** [0, 1): jitter source (tests pass a fixed one). */
  random?: () => number;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface DownloadResult {
  path: string;
  attempts: number;
  /** Offsets later attempts resumed from (Range requests actually sent). */
  resumedFrom: number[];
  /** The file was already complete from an earlier run. */
  alreadyComplete: boolean;
}

export class DownloadError extends Error {
  override name = 'DownloadError';
  constructor(
    message: string,
    /** false: retrying cannot help (404, wrong digest, too many bytes). */
    readonly retriable: boolean,
    /** DOWNLOAD_TOO_SLOW: the last attempt was cut for slow retrieval (stall or trickle). */
    readonly code: 'DOWNLOAD_FAILED' | 'DOWNLOAD_TOO_SLOW' = 'DOWNLOAD_FAILED',
  ) {
    super(message);
  }
}

/** An attempt cut because the bytes stopped or trickled (retried like a dropped link). */
class SlowRetrievalError extends Error {
  override name = 'SlowRetrievalError';
}

/** Delay before attempt n+1 (n >= 1): full jitter over min(max, base * 2^(n-1)). */
export function backoffDelay(attempt: number, policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(ceiling * random());
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export async function downloadResumable(request: DownloadRequest): Promise<DownloadResult> {
  const { path, length } = request;
  const partPath = `${path}.part`;
  const log = request.log ?? (() => undefined);
  if ((await sizeOf(path)) === length && (await sha256OfFile(path)) === request.sha256) {
    return { path, attempts: 0, resumedFrom: [], alreadyComplete: true };
  }
  await rm(path, { force: true });
  const resumedFrom: number[] = [];
  let attempts = 0;
  for (;;) {
    attempts++;
    try {
      await fetchRemainder(request, partPath, resumedFrom);
      break;
    } catch (error) {
      if (request.signal?.aborted) throw request.signal.reason;
      const retriable = !(error instanceof DownloadError) || error.retriable;
      if (!retriable || attempts >= request.maxAttempts) {
        if (error instanceof DownloadError && !error.retriable) throw error;
        const code = error instanceof SlowRetrievalError ? 'DOWNLOAD_TOO_SLOW' : 'DOWNLOAD_FAILED';
        throw new DownloadError(`${request.url}: gave up after ${attempts} attempt(s): ${(error as Error).message}`, true, code);
      }
      const delay = backoffDelay(attempts, request, request.random);
      log(`download ${request.url}: attempt ${attempts} failed (${(error as Error).message}); retrying in ${delay} ms`);
      await sleep(delay, request.signal);
    }
  }
  const digest = await sha256OfFile(partPath);
  if (digest !== request.sha256) {
    await rm(partPath, { force: true });
    throw new DownloadError(`${request.url}: downloaded bytes hash to ${digest}, the manifest pins ${request.sha256}; discarded`, false);
  }
  await rename(partPath, path);
  return { path, attempts, resumedFrom, alreadyComplete: false };
}

/**
 * One attempt: asks for the bytes after what `partPath` holds and appends them (recording the
 * offset of a Range request). Returns the offset it started from. Throws on a short body, so the
 * caller retries.
 */
async function fetchRemainder(request: DownloadRequest, partPath: string, resumedFrom: number[]): Promise<number> {
  const { url, length } = request;
  let offset = (await sizeOf(partPath)) ?? 0;
  if (offset > length) {
    await truncate(partPath, 0);
    offset = 0;
  }
  if (offset === length) return offset;
  if (offset > 0) resumedFrom.push(offset);

  // Each window of stallTimeoutMs must bring at least one byte, and minBytesPerSecond's worth.
  const stall = new AbortController();
  const window = request.stallTimeoutMs;
  const minPerWindow = Math.max(1, Math.ceil(((request.minBytesPerSecond ?? 0) * window) / 1000));
  let windowBytes = 0;
  const stallTimer = setInterval(() => {
    if (windowBytes === 0) stall.abort(new SlowRetrievalError(`no data for ${window} ms`));
    else if (windowBytes < minPerWindow) stall.abort(new SlowRetrievalError(`slow retrieval: ${windowBytes} bytes in ${window} ms, below the minimum of ${request.minBytesPerSecond} bytes/s`));
    windowBytes = 0;
  }, window);
  const signal = request.signal ? AbortSignal.any([stall.signal, request.signal]) : stall.signal;
  const cutBy = () => (stall.signal.aborted ? (stall.signal.reason as SlowRetrievalError) : undefined);
  try {
    let res: Response;
    try {
      res = await (request.fetch ?? fetch)(url, { headers: offset > 0 ? { range: `bytes=${offset}-` } : {}, signal });
    } catch (error) {
      throw cutBy() ?? new Error(describeFetchError(error));
    }
    if (res.status === 416) {
      // The server's object is shorter than our partial file: it is not what we started on.
      await res.body?.cancel();
      await truncate(partPath, 0);
      throw new Error('416 range not satisfiable: starting over');
    }
    if (res.status === 404 || res.status === 403 || res.status === 400) {
      await res.body?.cancel();
      throw new DownloadError(`${url}: ${res.status}`, false);
    }
    if (res.status !== 200 && res.status !== 206) {
      await res.body?.cancel();
      throw new Error(`HTTP ${res.status}`);
    }
    let start = 0;
    if (res.status === 206) {
      const range = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
      if (!range || Number(range[1]) !== offset) {
        await res.body?.cancel();
        await truncate(partPath, 0);
        throw new Error(`206 with content-range ${res.headers.get('content-range')} for a request from ${offset}: starting over`);
      }
      start = offset;
    }
    // 200 means the whole object from byte 0 (the server ignored the Range): overwrite.
    const handle = await open(partPath, start === 0 ? 'w' : 'a');
    let written = start;
    try {
      for await (const chunk of res.body ?? []) {
        const bytes = chunk as Uint8Array;
        if (written + bytes.length > length) {
          throw new DownloadError(`${url}: longer than the ${length} bytes the manifest pins (endless data); discarded`, false);
        }
        await handle.write(bytes);
        written += bytes.length;
        windowBytes += bytes.length;
      }
    } catch (error) {
      if (error instanceof DownloadError) {
        await handle.close();
        await rm(partPath, { force: true });
        throw error;
      }
      const slow = cutBy();
      if (slow) throw new SlowRetrievalError(`cut at byte ${written}: ${slow.message}`);
      throw new Error(`cut at byte ${written}: ${describeFetchError(error)}`);
    } finally {
      // What arrived stays on disk for the next attempt, even if this process dies right after.
      await handle.sync().catch(() => undefined);
      await handle.close().catch(() => undefined);
    }
    if (written < length) throw new Error(`short body: ${written} of ${length} bytes`);
    return start;
  } finally {
    clearInterval(stallTimer);
  }
}
