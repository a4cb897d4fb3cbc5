// Reads untrusted input with a byte limit enforced while the bytes arrive, before anything parses
// them: an endless file (a FIFO, a symlink to /dev/zero, a file still growing) costs at most
// `limit` bytes of memory and stops at once. The limit is part of the contract, stated in the docs.
import { open } from 'node:fs/promises';
import { CodedError } from './coded-error.js';

export class InputTooLargeError extends CodedError<'INPUT_TOO_LARGE'> {
  constructor(message: string) {
    super('INPUT_TOO_LARGE', message);
  }
}

const CHUNK = 64 * 1024;

/** Collects at most `limit` bytes of a chunk source; one byte more is an InputTooLargeError. */
export async function readAtMost(source: AsyncIterable<Uint8Array | string>, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of source) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    length += buf.length;
    if (length > limit) {
      // Stop the source (a stream is destroyed by the for-await return).
      throw new InputTooLargeError(`${what} is larger than the ${limit} bytes allowed`);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks, length);
}

/** A file's bytes, at most `limit` of them: refused from its size when it says so, else while reading. */
export async function readFileAtMost(path: string, limit: number, what: string): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const info = await handle.stat();
    if (info.isFile() && info.size > limit) throw new InputTooLargeError(`${what} is ${info.size} bytes, more than the ${limit} allowed`);
    const out = Buffer.allocUnsafe(limit + 1);
    let length = 0;
    // Reads into a buffer of limit + 1 bytes: a file that grows, or a device that never ends, stops there.
    while (length <= limit) {
      const { bytesRead } = await handle.read(out, length, Math.min(CHUNK, limit + 1 - length), null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > limit) throw new InputTooLargeError(`${what} is larger than the ${limit} bytes allowed`);
    return Buffer.from(out.subarray(0, length));
  } finally {
    await handle.close();
  }
}
