// One delta of one format from an earlier release to the new image, verified by re-applying it,
// and stored by content address (a retried attempt stores the same bytes under the same key).
// bsdiff is generated in a child process, ops by its worker pool: both off the worker's event loop.
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { generateBsdiffDelta, generateVerifiedOpsDelta } from '../../deltas/index.js';
import { parseManifest, type DeltaFormat, type ReleaseIndexEntry } from '../../schemas/manifest.js';
import type { DeltaOutcome, ReleaseRequest, StoredBlob } from '../../release/types.js';
import type { ReleaseActivityDeps } from './activity-deps.js';
import { cancellationSignal, heartbeat } from './heartbeat.js';
import { materialize } from './workspace.js';

/** `format` defaults to bsdiff: workflow histories recorded before ops existed called it with three arguments. */
export async function generateDelta(ctx: ReleaseActivityDeps, request: ReleaseRequest, base: ReleaseIndexEntry, compressedImage: StoredBlob, format: DeltaFormat = 'bsdiff'): Promise<DeltaOutcome> {
  const baseManifest = parseManifest(await ctx.store.getBytes(base.manifest.location));
  const progress = (phase: string) => (bytes: number) => heartbeat({ phase, bytes });
  const oldPath = await materialize(ctx.store, ctx.workDir, {
    key: baseManifest.image.location,
    sha256: baseManifest.image.sha256,
    gunzip: baseManifest.image.compression === 'gzip',
    onProgress: progress(`fetching ${base.version}`),
  });
  const newPath = await materialize(ctx.store, ctx.workDir, { key: request.image.key, sha256: request.image.sha256, onProgress: progress('fetching image') });
  const options = {
    oldImagePath: oldPath,
    newImagePath: newPath,
    outPath: join(ctx.workDir, `delta-${baseManifest.image.sha256.slice(0, 16)}-${request.image.sha256.slice(0, 16)}.${format}`),
    fullCompressedLength: compressedImage.size,
    maxRatio: request.deltaMaxRatio,
    oldSha256: baseManifest.image.sha256,
    newSha256: request.image.sha256,
    scratchDir: ctx.workDir,
    signal: cancellationSignal(),
    onProgress: (p: { phase: string; bytesDone: number; bytesTotal: number }) => heartbeat({ phase: `${format} ${p.phase} from ${base.version}`, bytes: p.bytesDone, total: p.bytesTotal }),
  };
  const result = format === 'ops' ? await generateVerifiedOpsDelta(options) : await generateBsdiffDelta(options);
  if (result.status === 'skipped') {
    return { kind: 'skipped', skipped: { format, fromVersion: base.version, reason: result.reason } };
  }
  try {
    const blob = await ctx.store.putBlob(createReadStream(result.path), { expectedSha256: result.sha256 });
    return {
      kind: 'delta',
      delta: {
        format,
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
