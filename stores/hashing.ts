// Hashes and counts bytes while they stream through, and refuses to finish when the content
// does not match the digest the caller promised, so the backend never commits it.
import { createHash } from 'node:crypto';
import type { ByteSource, PutBlobOptions } from './artifact-store.js';
import { DigestMismatchError, StoreError } from './errors.js';
import { isSha256Hex } from './keys.js';

export interface DigestTally {
  sha256?: string;
  size: number;
}

export function checkExpectedSha256(expected: string | undefined): void {
  if (expected !== undefined && !isSha256Hex(expected)) {
    throw new StoreError(`expectedSha256 must be 64 lowercase hex characters, got ${JSON.stringify(expected)}`);
  }
}

/**
 * Yields the source's chunks unchanged. After the last chunk it sets tally.sha256, or throws
 * DigestMismatchError, before returning, so a consumer sees the error instead of the end.
 */
export async function* hashingChunks(source: ByteSource, tally: DigestTally, options: PutBlobOptions = {}): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  for await (const raw of source) {
    options.signal?.throwIfAborted();
    const chunk = typeof raw === 'string' ? Buffer.from(raw) : Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    hash.update(chunk);
    tally.size += chunk.length;
    options.onProgress?.(tally.size);
    yield chunk;
  }
  options.signal?.throwIfAborted();
  const actual = hash.digest('hex');
  if (options.expectedSha256 !== undefined && options.expectedSha256 !== actual) {
    throw new DigestMismatchError(options.expectedSha256, actual);
  }
  tally.sha256 = actual;
}
