// Durable file primitives for the local backend: write to a hidden temp file in the target
// directory, fsync, then make it visible in one atomic step (link or rename), so a crash or
// an interrupted source never leaves a partial object under a real key.
import { randomUUID } from 'node:crypto';
import { link, mkdir, open, rename, rm, stat, unlink, utimes } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { BigIntStats } from 'node:fs';

export function isErrno(error: unknown, ...codes: string[]): boolean {
  return typeof error === 'object' && error !== null && codes.includes((error as NodeJS.ErrnoException).code ?? '');
}

/**
 * Writes chunks into a fresh hidden temp file in dir (so the later publish is a same-directory
 * link/rename), fsynced and closed; returns its path. On failure the temp file is removed.
 */
export async function writeTempFile(dir: string, label: string, chunks: AsyncIterable<Uint8Array>): Promise<string> {
  await mkdir(dir, { recursive: true });
  const temp = join(dir, `.${label}.${randomUUID()}.tmp`);
  const handle = await open(temp, 'wx', 0o644);
  try {
    for await (const chunk of chunks) await handle.write(chunk);
    await handle.sync();
    await handle.close();
    return temp;
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw error;
  }
}

/** Directory entries (new names) are only durable once the directory itself is fsynced. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes temp visible as target unless target exists (link refuses to overwrite). Consumes temp. */
export async function publishExclusive(temp: string, target: string): Promise<'created' | 'exists'> {
  try {
    await link(temp, target);
    await syncDirectory(dirname(target));
    return 'created';
  } catch (error) {
    if (isErrno(error, 'EEXIST')) return 'exists';
    throw error;
  } finally {
    await unlink(temp).catch(() => {});
  }
}

/** Atomically replaces target with temp. Consumes temp. */
export async function publishReplacing(temp: string, target: string): Promise<void> {
  try {
    await rename(temp, target);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
  await syncDirectory(dirname(target));
}

/** inode + size + mtime: changes on every replace because each publish is a new inode. */
export function etagOfStats(stats: BigIntStats): string {
  return `"${stats.ino.toString(16)}-${stats.size.toString(16)}-${stats.mtimeNs.toString(16)}"`;
}

export async function statIfExists(path: string): Promise<BigIntStats | undefined> {
  try {
    const stats = await stat(path, { bigint: true });
    return stats.isFile() ? stats : undefined;
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ENOTDIR')) return undefined;
    throw error;
  }
}

const LOCK_STALE_MS = 30_000;
const LOCK_WAIT_MS = 10_000;

/**
 * Serialises writers of one mutable key across processes with an O_EXCL lock file beside it.
 * A lock older than LOCK_STALE_MS is assumed abandoned by a crashed writer and broken.
 */
export async function withFileLock<T>(target: string, fn: () => Promise<T>): Promise<T> {
  const lock = join(dirname(target), `.${basename(target)}.lock`);
  await mkdir(dirname(target), { recursive: true });
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      await (await open(lock, 'wx')).close();
      break;
    } catch (error) {
      if (!isErrno(error, 'EEXIST')) throw error;
      const held = await stat(lock).catch(() => undefined);
      if (held && Date.now() - held.mtimeMs > LOCK_STALE_MS) {
        await rm(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${lock}`);
      await new Promise((r) => setTimeout(r, 10 + Math.random() * 20));
    }
  }
  try {
    // Refresh so a long-held lock is not mistaken for a stale one.
    const now = new Date();
    await utimes(lock, now, now).catch(() => {});
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}
