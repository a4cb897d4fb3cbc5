// Open a firmware image as a byte stream: transparently gunzips, and reports the raw
// (on-disk) bytes so the image digest is computed in the same pass as the rootfs scan.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline, Transform, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { looksLikeTarHeader } from '../platform/tar-reader.js';

export interface ImageStream {
  /** Decompressed content. */
  content: Readable;
  gzipped: boolean;
  /** sha256 (hex) and size of the raw file; resolved once `content` has been fully read. */
  digest: Promise<{ sha256: string; size: number }>;
}

async function startsWithGzipMagic(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(2);
    const { bytesRead } = await fh.read(buf, 0, 2, 0);
    return bytesRead === 2 && buf[0] === 0x1f && buf[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

export async function openImage(path: string): Promise<ImageStream> {
  const gzipped = await startsWithGzipMagic(path);
  const hash = createHash('sha256');
  let size = 0;
  let resolveDigest!: (d: { sha256: string; size: number }) => void;
  let rejectDigest!: (e: unknown) => void;
  const digest = new Promise<{ sha256: string; size: number }>((resolve, reject) => {
    resolveDigest = resolve;
    rejectDigest = reject;
  });
  digest.catch(() => undefined); // also surfaced through `content`; avoid unhandled rejections
  // Hash in a Transform (not a 'data' listener) so backpressure and late consumers work.
  const hasher = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
    flush(cb) {
      resolveDigest({ sha256: hash.digest('hex'), size });
      cb();
    },
  });
  const stages: (Readable | Transform)[] = [createReadStream(path), hasher];
  if (gzipped) stages.push(createGunzip());
  const content = pipeline(stages as unknown as [Readable, Transform], (err) => {
    if (err) rejectDigest(err);
  }) as unknown as Readable;
  return { content, gzipped, digest };
}

/** Streams the whole file once to get its digest, without keeping it. */
export async function digestFile(path: string): Promise<{ sha256: string; size: number }> {
  const img = await openImage(path);
  img.content.resume();
  return img.digest;
}

/** Whether the (possibly gzipped) image is a tar archive: checks the first header block. */
export async function isTarImage(path: string): Promise<boolean> {
  const img = await openImage(path);
  let head = Buffer.alloc(0);
  try {
    for await (const chunk of img.content) {
      head = Buffer.concat([head, chunk as Buffer]);
      if (head.length >= 512) break;
    }
  } catch {
    return false; // e.g. gzip magic on a non-gzip file
  } finally {
    img.content.destroy();
  }
  return looksLikeTarHeader(head.subarray(0, 512));
}
