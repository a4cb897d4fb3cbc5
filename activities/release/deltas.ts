// One bsdiff delta from an earlier release to the new image, generated in a child process
// (off the worker's event loop), verified by re-applying, and stored by content address.
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { generateBsdiffDelta } from '../../deltas/index.js';
import { parseManifest, type ReleaseIndexEntry } from '../../schemas/manifest.js';
import type { DeltaOutcome, ReleaseRequest, StoredBlob } from '../../release/types.js';
import type { ReleaseContext } from './context.js';
import { cancellationSignal, heartbeat } from './heartbeat.js';
import { materialize } from './workspace.js';

export async function generateDelta(ctx: ReleaseContext, request: ReleaseRequest, base: ReleaseIndexEntry, compressedImage: StoredBlob): Promise<DeltaOutcome> {
  const baseManifest = parseManifest(await ctx.store.getBytes(base.manifest.location));
  const progress = (phase: string) => (bytes: number) => heartbeat({ phase, bytes });
  const oldPath = await materialize(ctx.store, ctx.workDir, {
    key: baseManifest.image.location,
    sha256: baseManifest.image.sha256,
    gunzip: baseManifest.image.compression === 'gzip',
    onProgress: progress(`fetching ${base.version}`),
  });
  const newPath = await materialize(ctx.store, ctx.workDir, { key: request.image.key, sha256: request.image.sha256, onProgress: progress('fetching image') });
  const outPath = join(ctx.workDir, `delta-${baseManifest.image.sha256.slice(0, 16)}-${request.image.sha256.slice(0, 16)}.bsdiff`);
  const result = await generateBsdiffDelta({
    oldImagePath: oldPath,
    newImagePath: newPath,
    outPath,
    fullCompressedLength: compressedImage.size,
    maxRatio: request.deltaMaxRatio,
    oldSha256: baseManifest.image.sha256,
    newSha256: request.image.sha256,
    scratchDir: ctx.workDir,
    signal: cancellationSignal(),
    onProgress: (p) => heartbeat({ phase: `${p.phase} from ${base.version}`, bytes: p.bytesDone, total: p.bytesTotal }),
  });
  if (result.status === 'skipped') {
    return { kind: 'skipped', skipped: { format: 'bsdiff', fromVersion: base.version, reason: result.reason } };
  }
  try {
    const blob = await ctx.store.putBlob(createReadStream(result.path), { expectedSha256: result.sha256 });
    return {
      kind: 'delta',
      delta: {
        format: 'bsdiff',
        fromVersion: base.version,
        fromSha256: result.fromSha256,
        toSha256: result.toSha256,
        sha256: blob.sha256,
        length: blob.size,
        location: blob.key,
        compression: 'none',
      },
    };
  } finally {
    await rm(result.path, { force: true });
  }
}
