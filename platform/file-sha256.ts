// SHA-256 of a file (or of its first `length` bytes) by streaming read, never holding it whole.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** `bytes` is what was actually read: fewer than `length` means the file is shorter. */
export async function sha256OfFile(path: string, length?: number): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  if (length !== 0) {
    const range = length === undefined ? {} : { start: 0, end: length - 1 };
    for await (const chunk of createReadStream(path, { ...range, highWaterMark: 1 << 20 })) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
  }
  return { sha256: hash.digest('hex'), bytes };
}
