// The release activity and compressFullImage (what the tests and the bench measure) go through one
// compressor: the same image gives the same compressed bytes on both paths.
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compressImage } from '../../activities/release/compress.js';
import { compressFullImage } from '../../deltas/index.js';
import { buildImagePair } from '../support/image-pairs.mjs';

let dir: string;
let image: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ota-compressor-'));
  image = join(dir, 'new.img');
  buildImagePair({ oldPath: join(dir, 'old.img'), newPath: image, targetBytes: 1024 * 1024, seed: 3 });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Just the two store calls compressImage makes: read the raw image, keep what it writes. */
function fileStore(path: string) {
  let written = Buffer.alloc(0);
  const store = {
    getStream: async () => createReadStream(path),
    putBlob: async (source: Readable) => {
      const chunks: Buffer[] = [];
      for await (const chunk of source) chunks.push(chunk as Buffer);
      written = Buffer.concat(chunks);
      const sha256 = createHash('sha256').update(written).digest('hex');
      return { key: `blobs/${sha256}`, sha256, size: written.length };
    },
  };
  return { store, written: () => written };
}

describe('full-image compressor', () => {
  it('gives the release activity and compressFullImage the same gzip bytes', async () => {
    const { store, written } = fileStore(image);
    const ctx = { store } as unknown as Parameters<typeof compressImage>[0];
    const size = readFileSync(image).length;
    const blob = await compressImage(ctx, { key: 'raw', sha256: 'unused', size });
    const full = await compressFullImage({ imagePath: image, outPath: join(dir, 'new.img.gz'), compression: 'gzip' });
    expect(readFileSync(full.path).equals(written())).toBe(true);
    expect(blob).toMatchObject({ sha256: full.compressedSha256, size: full.compressedLength });
    expect(gunzipSync(written()).equals(readFileSync(image))).toBe(true);
  });
});
