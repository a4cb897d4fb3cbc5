// Applies one BSDIFF op: bsdiff-node's bspatch is file based, so the source extent and the
// payload go to scratch files next to the output. bspatch holds the source extent and the op's
// output in RAM: bounded by the header's maxSourceExtentLength + maxOpTargetLength.
import { createRequire } from 'node:module';
import type { FileHandle } from 'node:fs/promises';
import { open, rm } from 'node:fs/promises';
import { OpsDeltaError } from './errors.js';

const bsdiff = createRequire(import.meta.url)('bsdiff-node') as { patch(oldPath: string, newPath: string, patchPath: string): Promise<void> };

/** Checks the BSDIFF40 header against the op before bspatch trusts (and allocates) its sizes. */
export function checkBsdiffHeader(header: Buffer, payloadLength: number, targetLength: number, index: number): void {
  const where = `op ${index}: bsdiff payload`;
  if (header.length < 32 || header.toString('latin1', 0, 8) !== 'BSDIFF40') throw new OpsDeltaError('corrupt-payload', `${where} has no BSDIFF40 header`);
  const field = (at: number) => {
    const magnitude = header.readBigUInt64LE(at) & 0x7fffffffffffffffn;
    return header[at + 7]! & 0x80 ? -magnitude : magnitude;
  };
  const ctrl = field(8);
  const diff = field(16);
  const newSize = field(24);
  if (ctrl < 0n || diff < 0n || 32n + ctrl + diff > BigInt(payloadLength)) throw new OpsDeltaError('corrupt-payload', `${where}: block lengths do not fit its ${payloadLength} bytes`);
  if (newSize !== BigInt(targetLength)) throw new OpsDeltaError('corrupt-payload', `${where} produces ${newSize} bytes, the op writes ${targetLength}`);
}

export interface BspatchFiles {
  old: string;
  patch: string;
  out: string;
}

export function scratchFiles(base: string): BspatchFiles {
  return { old: `${base}.old`, patch: `${base}.patch`, out: `${base}.new` };
}

export async function removeScratch(files: BspatchFiles): Promise<void> {
  await Promise.all([files.old, files.patch, files.out].map((p) => rm(p, { force: true })));
}

/** Copies [offset, offset+length) of the source into a scratch file through one reusable buffer. */
export async function copyExtent(source: FileHandle, offset: number, length: number, path: string, buffer: Buffer): Promise<void> {
  const out = await open(path, 'w');
  try {
    for (let done = 0; done < length; ) {
      const n = Math.min(buffer.length, length - done);
      const { bytesRead } = await source.read(buffer, 0, n, offset + done);
      if (bytesRead === 0) throw new OpsDeltaError('source-mismatch', `source ends at ${offset + done}, the op reads up to ${offset + length}`);
      await out.write(buffer, 0, bytesRead);
      done += bytesRead;
    }
  } finally {
    await out.close();
  }
}

export async function runBspatch(files: BspatchFiles, index: number): Promise<void> {
  try {
    await bsdiff.patch(files.old, files.out, files.patch);
  } catch (err) {
    throw new OpsDeltaError('corrupt-payload', `op ${index}: bspatch rejected the payload (${err instanceof Error ? err.message : String(err)})`);
  }
}
