// Before anything on the device changes, the chosen artifact is copied from the source into the
// scratch folder and verified (length and sha256 pinned by the signed manifest). A tampered or
// endless artifact is refused here, with the boot state, the slots and the agent state untouched.
// A delta is also applied here, to a scratch file, so the slot write is the same for both kinds.
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress, createGunzip } from 'node:zlib';
import { applyBsdiffPatch } from '../../deltas/bsdiff/apply.js';
import type { Compression, ManifestDelta, ManifestImage } from '../../schemas/manifest.js';
import { checkDeltaBase } from '../../verification/manifest-checks.js';
import { DeltaBaseMismatchError } from '../../verification/errors.js';
import type { SlotDevice } from '../slots/slot-device.js';
import type { SlotImage } from './agent-state.js';
import type { UpdateSource } from './update-source.js';
import { VerifyingStream } from './verifying-stream.js';

/** A verified local file that becomes the image in the slot once decompressed. */
export interface StagedImage {
  path: string;
  compression: Compression;
  kind: 'full' | 'delta';
}

/**
 * An ops delta and its base, verified, not applied yet: the apply runs under the install journal
 * (ops-delta-apply.ts) so that a power cut mid-patch resumes from its last checkpoint.
 */
export interface StagedOpsDelta {
  kind: 'ops-delta';
  patchPath: string;
  basePath: string;
  /** Where the applied image goes (its partial file beside it survives a power cut). */
  imagePath: string;
}

export function decompressor(compression: Compression): NodeJS.ReadWriteStream[] {
  if (compression === 'gzip') return [createGunzip()];
  if (compression === 'brotli') return [createBrotliDecompress()];
  return [];
}

export async function stageFullImage(source: UpdateSource, image: ManifestImage, workDir: string): Promise<StagedImage> {
  const path = join(workDir, 'image.stored');
  const pinned =
    image.compression === 'none'
      ? { name: 'image', sha256: image.sha256, length: image.length }
      : { name: 'stored (compressed) image', sha256: image.compressedSha256, length: image.compressedLength };
  await pipeline(await source.open(image.location), new VerifyingStream(pinned), createWriteStream(path));
  return { path, compression: image.compression, kind: 'full' };
}

/**
 * The delta, verified; the base copied from the active slot (exactly the installed image's
 * length: a slot is usually longer than its image, and bspatch would read the tail) and checked
 * against the delta's base digest; then bspatch in a child process, checked against the image digest.
 * An ops delta is handed back unapplied (StagedOpsDelta).
 */
export async function stageDelta(
  source: UpdateSource,
  delta: ManifestDelta,
  image: ManifestImage,
  active: { slot: SlotDevice; image: SlotImage },
  workDir: string,
): Promise<StagedImage | StagedOpsDelta> {
  checkDeltaBase(delta, active.image.sha256);
  const patchPath = join(workDir, 'delta.patch');
  await pipeline(
    await source.open(delta.location, { sha256: delta.sha256, length: delta.length }),
    new VerifyingStream({ name: `delta from ${delta.fromVersion}`, sha256: delta.sha256, length: delta.length }),
    ...decompressor(delta.compression),
    createWriteStream(patchPath),
  );
  const basePath = join(workDir, 'base.img');
  try {
    await pipeline(
      createReadStream(active.slot.path, { start: 0, end: active.image.length - 1, highWaterMark: 1 << 20 }),
      new VerifyingStream({ name: `active slot ${active.slot.slot}`, sha256: delta.fromSha256, length: active.image.length }),
      createWriteStream(basePath),
    );
  } catch (error) {
    throw new DeltaBaseMismatchError(`slot ${active.slot.slot} does not hold the delta's base image ${delta.fromVersion}: ${(error as Error).message}`);
  }
  const imagePath = join(workDir, 'image.raw');
  if (delta.format === 'ops') return { kind: 'ops-delta', patchPath, basePath, imagePath };
  await applyBsdiffPatch(basePath, patchPath, imagePath, { expectedSha256: image.sha256, maxOutputBytes: image.length });
  return { path: imagePath, compression: 'none', kind: 'delta' };
}
