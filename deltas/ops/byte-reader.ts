// Reads a patch as a stream, once: exact-size records, and payloads handed out chunk by chunk
// without concatenating them. Counts bytes so progress can record where the next op starts.
import { OpsDeltaError } from './errors.js';

export class PatchByteReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  /** Bytes consumed so far, counted from where the stream started. */
  position: number;

  constructor(
    private readonly source: AsyncIterator<Buffer | Uint8Array>,
    startPosition = 0,
  ) {
    this.position = startPosition;
  }

  private async fill(min: number): Promise<boolean> {
    while (this.buffered < min && !this.ended) {
      const next = await this.source.next();
      if (next.done) {
        this.ended = true;
        break;
      }
      const buf = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
      if (buf.length === 0) continue;
      this.chunks.push(buf);
      this.buffered += buf.length;
    }
    return this.buffered >= min;
  }

  private take(n: number): Buffer {
    const head = this.chunks[0]!;
    const out = head.subarray(0, n);
    if (n === head.length) this.chunks.shift();
    else this.chunks[0] = head.subarray(n);
    this.buffered -= n;
    this.position += n;
    return out;
  }

  /** Exactly n bytes (records: small n); a short stream is a truncated patch. */
  async readExact(n: number, what: string): Promise<Buffer> {
    if (!(await this.fill(n))) throw new OpsDeltaError('truncated', `patch truncated at byte ${this.position + this.buffered}: expected ${what}`);
    if (this.chunks[0]!.length >= n) return this.take(n);
    const out = Buffer.allocUnsafe(n);
    for (let off = 0; off < n; ) {
      const part = this.take(Math.min(this.chunks[0]!.length, n - off));
      part.copy(out, off);
      off += part.length;
    }
    return out;
  }

  /** n bytes as they arrive, zero-copy slices. */
  async *chunksOf(n: number, what: string): AsyncGenerator<Buffer> {
    for (let left = n; left > 0; ) {
      if (!(await this.fill(1))) throw new OpsDeltaError('truncated', `patch truncated at byte ${this.position}: ${what} is ${left} bytes short`);
      const part = this.take(Math.min(this.chunks[0]!.length, left));
      left -= part.length;
      yield part;
    }
  }

  /** True when nothing follows (used to refuse bytes after the trailer). */
  async atEnd(): Promise<boolean> {
    return !(await this.fill(1));
  }
}
