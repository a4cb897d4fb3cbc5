// The full image as devices download it when no delta fits: gzip, streamed store-to-store, through
// the compressor that compressFullImage (tests, bench) uses too.
import { Readable } from 'node:stream';
import { createFullImageCompressor } from '#deltas/full-image-compressor.mjs';
import type { StoredBlob } from '../../release/types.js';
import type { ReleaseActivityDeps } from './activity-deps.js';
import { cancellationSignal, heartbeat } from './heartbeat.js';

export async function compressImage(ctx: ReleaseActivityDeps, image: StoredBlob): Promise<StoredBlob> {
  const source = await ctx.store.getStream(image.key);
  let read = 0;
  source.on('data', (chunk: Buffer) => {
    read += chunk.length;
    heartbeat({ phase: 'compressing', bytes: read, total: image.size });
  });
  // Same image, same bytes (no timestamp in the gzip header), so a retry produces the same blob.
  const gzip = createFullImageCompressor('gzip');
  const compressed = source.pipe(gzip);
  source.on('error', (err) => gzip.destroy(err));
  const ref = await ctx.store.putBlob(compressed as Readable, { signal: cancellationSignal() });
  return ref;
}
