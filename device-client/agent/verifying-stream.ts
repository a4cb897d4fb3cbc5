// A pass-through that checks bytes against what the manifest pins while they flow: it fails as
// soon as more than `length` bytes arrive (endless data), and at the end on a short read or a
// digest mismatch. Nothing downstream of a failed check may be trusted (the caller keeps the
// slot out of the boot rotation until the written image verifies).
import { Transform, type TransformCallback } from 'node:stream';
import { ArtifactCheck, type ExpectedArtifact } from '../../verification/verify-artifact.js';

export class VerifyingStream extends Transform {
  private readonly check: ArtifactCheck;

  constructor(readonly expected: ExpectedArtifact & { length: number }) {
    super();
    this.check = new ArtifactCheck(expected);
  }

  get bytes(): number {
    return this.check.bytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.check.update(chunk);
    } catch (err) {
      callback(err as Error);
      return;
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.check.finish();
    } catch (err) {
      callback(err as Error);
      return;
    }
    callback();
  }
}
