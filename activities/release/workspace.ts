// Brings a stored blob onto local disk (tools like bsdiff and the SBOM scanner need files),
// verifying its digest while streaming, and caching it by digest for later steps.
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { ArtifactStore } from '../../stores/index.js';

export interface MaterializeOptions {
  key: string;
  /** Digest of the bytes after decompression (what lands on disk). */
  sha256: string;
  gunzip?: boolean;
  onProgress?: (bytes: number) => void;
}

export async function materialize(store: ArtifactStore, workDir: string, opts: MaterializeOptions): Promise<string> {
  const dir = join(workDir, 'blobs');
  const path = join(dir, opts.sha256);
  if (existsSync(path)) return path;
  await mkdir(dir, { recursive: true });
  const temp = join(dir, `.${opts.sha256}.${randomUUID()}.part`);
  const hash = createHash('sha256');
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      opts.onProgress?.(bytes);
      done(null, chunk);
    },
  });
  try {
    const source = await store.getStream(opts.key);
    if (opts.gunzip) await pipeline(source, createGunzip(), meter, createWriteStream(temp));
    else await pipeline(source, meter, createWriteStream(temp));
    const actual = hash.digest('hex');
    if (actual !== opts.sha256) throw new Error(`${opts.key}: content sha256 ${actual} differs from expected ${opts.sha256}`);
    await rename(temp, path);
    return path;
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}
