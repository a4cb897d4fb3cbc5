// Checks an artifact's length and sha256 against what the manifest pins, chunk by chunk, so it is
// streamed once and never held whole. ArtifactCheck is the rule; verifyArtifactStream drains a
// source through it, and the device's VerifyingStream applies it to bytes on their way to a slot.
import { createHash } from 'node:crypto';
import { ArtifactMismatchError } from './errors.js';

export interface ExpectedArtifact {
  name: string;
  sha256: string;
  length?: number;
}

export class ArtifactCheck {
  private readonly hash = createHash('sha256');
  private seen = 0;

  constructor(readonly expected: ExpectedArtifact) {}

  get bytes(): number {
    return this.seen;
  }

  /** Fails as soon as more bytes arrive than the manifest pins (endless data). */
  update(chunk: Uint8Array): void {
    this.seen += chunk.length;
    if (this.expected.length !== undefined && this.seen > this.expected.length) {
      throw new ArtifactMismatchError(`${this.expected.name}: longer than the ${this.expected.length} bytes the manifest pins`);
    }
    this.hash.update(chunk);
  }

  /** At the end: a short read or a digest mismatch. */
  finish(): void {
    if (this.expected.length !== undefined && this.seen !== this.expected.length) {
      throw new ArtifactMismatchError(`${this.expected.name}: ${this.seen} bytes, the manifest pins ${this.expected.length} (truncated?)`);
    }
    const digest = this.hash.digest('hex');
    if (digest !== this.expected.sha256) {
      throw new ArtifactMismatchError(`${this.expected.name}: sha256 ${digest} differs from the manifest's ${this.expected.sha256}`);
    }
  }
}

export async function verifyArtifactStream(source: AsyncIterable<Uint8Array | string>, expected: ExpectedArtifact): Promise<void> {
  const check = new ArtifactCheck(expected);
  for await (const chunk of source) check.update(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  check.finish();
}
