// A pass-through that checks bytes against what the manifest pins while they flow: it fails as
// soon as more than `length` bytes arrive (endless data), and at the end on a short read or a
// digest mismatch. Nothing downstream of a failed check may be trusted (the caller keeps the
// slot out of the boot rotation until the written image verifies).
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ArtifactMismatchError } from '../../verification/errors.js';
import type { ExpectedArtifact } from '../../verification/verify-artifact.js';

export class VerifyingStream extends Transform {
  private readonly hash = createHash('sha256');
  private seen = 0;

  constructor(readonly expected: ExpectedArtifact & { length: number }) {
    super();
  }

  get bytes(): number {
    return this.seen;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.expected.length) {
      callback(new ArtifactMismatchError(`${this.expected.name}: longer than the ${this.expected.length} bytes the manifest pins`));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.seen !== this.expected.length) {
      callback(new ArtifactMismatchError(`${this.expected.name}: ${this.seen} bytes, the manifest pins ${this.expected.length} (truncated?)`));
      return;
    }
    const digest = this.hash.digest('hex');
    if (digest !== this.expected.sha256) {
      callback(new ArtifactMismatchError(`${this.expected.name}: sha256 ${digest} differs from the manifest's ${this.expected.sha256}`));
      return;
    }
    callback();
  }
}
