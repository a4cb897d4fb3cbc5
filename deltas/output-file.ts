// Outputs appear only complete: jobs write to a hidden temp file next to the final path
// (same directory, so the rename is atomic) and it is renamed on success, removed on failure.
import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export function tempPathFor(finalPath: string): string {
  return join(dirname(finalPath), `.${basename(finalPath)}.partial-${process.pid}-${randomBytes(4).toString('hex')}`);
}

export async function discard(path: string): Promise<void> {
  await rm(path, { force: true });
}

/**
 * Runs `produce` against a temp path. When it returns `true` for keep the temp file becomes
 * `finalPath`; on `false` or on any error (abort included) the temp file is removed.
 */
export async function writeAtomically<T>(finalPath: string, produce: (tempPath: string) => Promise<{ keep: boolean; value: T }>): Promise<T> {
  const temp = tempPathFor(finalPath);
  try {
    const { keep, value } = await produce(temp);
    if (keep) await rename(temp, finalPath);
    else await discard(temp);
    return value;
  } catch (err) {
    await discard(temp);
    throw err;
  }
}
