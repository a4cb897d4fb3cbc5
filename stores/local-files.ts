// File primitives for the local backend: errno tests, etags, a cross-process lock. Its durable writes
// (hidden temp file, fsync, one atomic link or rename) are platform/atomic-write.ts.
import { mkdir, open, rm, stat, utimes } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { BigIntStats } from 'node:fs';

export function isErrno(error: unknown, ...codes: string[]): boolean {
  return typeof error === 'object' && error !== null && codes.includes((error as NodeJS.ErrnoException).code ?? '');
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
