// Test data as streams, never as one big buffer: deterministic chunks plus their digest.
import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Yields `total` bytes in chunks of `chunkSize`, each a fresh buffer (a producer must not
 * reuse buffers the consumer may still hold); digest.sha256 is set once the stream ends.
 */
export async function* generatedBytes(total: number, chunkSize: number, digest: { sha256?: string } = {}): AsyncGenerator<Buffer> {
  const pattern = randomBytes(chunkSize);
  const hash = createHash('sha256');
  for (let offset = 0, index = 0; offset < total; offset += chunkSize, index++) {
    const chunk = Buffer.from(pattern.subarray(0, Math.min(chunkSize, total - offset)));
    chunk.writeUInt32BE(index >>> 0, 0);
    hash.update(chunk);
    yield chunk;
  }
  digest.sha256 = hash.digest('hex');
}

/** Yields `before` bytes, then fails like a dropped client connection. */
export async function* failingAfter(before: number, chunkSize: number, error: Error): AsyncGenerator<Buffer> {
  yield* generatedBytes(before, chunkSize);
  throw error;
}

export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function digestOf(stream: Readable): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}
