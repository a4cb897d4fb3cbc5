// The full image as devices download it when no delta fits: gzip, streamed store-to-store.
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
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
  // Node writes gzip headers without a timestamp, so a retry produces the same blob.
  const gzip = createGzip({ level: 9 });
  const compressed = source.pipe(gzip);
  source.on('error', (err) => gzip.destroy(err));
  const ref = await ctx.store.putBlob(compressed as Readable, { signal: cancellationSignal() });
  return ref;
}
