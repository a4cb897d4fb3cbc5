// Streams an artifact once and checks its length and sha256 against what the manifest pins.
import { createHash } from 'node:crypto';
import { ArtifactMismatchError } from './errors.js';

export interface ExpectedArtifact {
  name: string;
  sha256: string;
  length?: number;
}

export async function verifyArtifactStream(source: AsyncIterable<Uint8Array | string>, expected: ExpectedArtifact): Promise<void> {
  const hash = createHash('sha256');
  let length = 0;
  for await (const chunk of source) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    hash.update(buf);
    length += buf.length;
    if (expected.length !== undefined && length > expected.length) {
      throw new ArtifactMismatchError(`${expected.name}: longer than the ${expected.length} bytes the manifest pins`);
    }
  }
  if (expected.length !== undefined && length !== expected.length) {
    throw new ArtifactMismatchError(`${expected.name}: ${length} bytes, the manifest pins ${expected.length} (truncated?)`);
  }
  const digest = hash.digest('hex');
  if (digest !== expected.sha256) {
    throw new ArtifactMismatchError(`${expected.name}: sha256 ${digest} differs from the manifest's ${expected.sha256}`);
  }
}
