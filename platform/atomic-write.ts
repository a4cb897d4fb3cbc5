// Files that appear only whole, so a crash at any moment leaves the old content or the new, never a torn one:
// write a hidden temp file in the target's directory (one filesystem, so the final rename or link is atomic),
// fsync it, make it visible in one step, then fsync the directory so the new name survives a power cut.
// On any failure the temp file is removed.
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export type FileData = string | Uint8Array | AsyncIterable<Uint8Array>;

/** A hidden name beside `target`; pid + random keep concurrent writers apart. */
export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** Removes a temp file, if it is there. */
export async function discard(path: string): Promise<void> {
  await rm(path, { force: true });
}

/** On a failure path: the first error is the one to report. */
const discardQuietly = (path: string) => discard(path).catch(() => {});

/** Makes a rename or link (a directory entry change) durable. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Flushes a file some other writer (a child process, a stream) produced. */
async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  for (let done = 0; done < chunk.length; ) done += (await handle.write(chunk, done, chunk.length - done)).bytesWritten;
}

/**
 * Writes `data` into a fresh temp file named after `label` in `dir` (mode 0644, or `mode`), fsynced and closed, and returns
 * its path for publishReplacing/publishExclusive. `createDir` makes `dir` first.
 */
export async function writeTempFile(dir: string, label: string, data: FileData, options: { createDir?: boolean; mode?: number } = {}): Promise<string> {
  if (options.createDir) await mkdir(dir, { recursive: true });
  const temp = tempPathFor(join(dir, label));
  const handle = await open(temp, 'wx', options.mode ?? 0o644);
  try {
    if (typeof data === 'string' || data instanceof Uint8Array) await handle.writeFile(data);
    else for await (const chunk of data) await writeAll(handle, chunk);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => {});
    await discardQuietly(temp);
    throw error;
  }
  await handle.close();
  return temp;
}

/** Atomically replaces `target` with `temp`. Consumes temp. */
export async function publishReplacing(temp: string, target: string): Promise<void> {
  try {
    await rename(temp, target);
  } catch (error) {
    await discardQuietly(temp);
    throw error;
  }
  await fsyncDirectory(dirname(target));
}

/** Makes `temp` visible as `target` unless target exists (link refuses to overwrite). Consumes temp. */
export async function publishExclusive(temp: string, target: string): Promise<'created' | 'exists'> {
  try {
    await link(temp, target);
    await fsyncDirectory(dirname(target));
    return 'created';
  } catch (error) {
    if ((error as NodeJS.ErrnoException | null)?.code === 'EEXIST') return 'exists';
    throw error;
  } finally {
    await discardQuietly(temp);
  }
}

/** Replaces the file at `path` with `data`, all or nothing. */
/** `mode` 0600 for what only its owner may read (device keys' neighbours: agent state, floor records). */
export async function writeFileAtomic(path: string, data: FileData, options: { mode?: number } = {}): Promise<void> {
  await publishReplacing(await writeTempFile(dirname(path), basename(path), data, options), path);
}

/**
 * Runs `produce` against a temp path beside `finalPath`. When it returns `keep: true` the temp file is fsynced
 * and becomes `finalPath`; on `keep: false` or on any error (abort included) the temp file is removed.
 */
export async function writeAtomically<T>(finalPath: string, produce: (tempPath: string) => Promise<{ keep: boolean; value: T }>): Promise<T> {
  const temp = tempPathFor(finalPath);
  try {
    const { keep, value } = await produce(temp);
    if (keep) {
      await fsyncFile(temp);
      await publishReplacing(temp, finalPath);
    } else await discard(temp);
    return value;
  } catch (err) {
    await discardQuietly(temp);
    throw err;
  }
}
