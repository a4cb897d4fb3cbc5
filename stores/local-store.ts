// The embedded backend: one directory on local disk. Blob and named-object publishes are
// atomic (temp file + fsync + link/rename), so readers see whole objects or nothing.
import { open, readdir, readFile, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import type { ArtifactStore, BlobRef, ByteRange, ByteSource, CreateResult, ListedObject, ObjectBody, ObjectHead, PutBlobOptions } from './artifact-store.js';
import { ConflictError, NotFoundError } from './errors.js';
import { checkExpectedSha256, hashingChunks, type DigestTally } from './hashing.js';
import { bodyBuffer } from './object-body.js';
import { assertValidKey, assertValidPrefix, BLOB_DIR_KEY, blobKey } from './keys.js';
import { publishExclusive, publishReplacing, writeTempFile } from '../platform/atomic-write.js';
import { etagOfStats, isErrno, statIfExists, withFileLock } from './local-files.js';
import { resolveRange } from './range.js';

async function* once(buffer: Buffer): AsyncGenerator<Buffer> {
  yield buffer;
}

export class LocalArtifactStore implements ArtifactStore {
  readonly root: string;
  readonly location: string;

  constructor(dir: string) {
    this.root = resolve(dir);
    this.location = `local:${this.root}`;
  }

  private pathOf(key: string): string {
    assertValidKey(key);
    return join(this.root, ...key.split('/'));
  }

  async putBlob(source: ByteSource, options: PutBlobOptions = {}): Promise<BlobRef> {
    checkExpectedSha256(options.expectedSha256);
    const tally: DigestTally = { size: 0 };
    // The final name is unknown until the content is hashed; the temp file already sits in
    // the blob directory so the publish is a same-directory link.
    const temp = await writeTempFile(this.pathOf(BLOB_DIR_KEY), 'upload', hashingChunks(source, tally, options), { createDir: true });
    const sha256 = tally.sha256!;
    const key = blobKey(sha256);
    // "exists" is success: same name means same content.
    await publishExclusive(temp, this.pathOf(key));
    return { sha256, size: tally.size, key };
  }

  async createIfAbsent(key: string, body: ObjectBody): Promise<CreateResult> {
    const path = this.pathOf(key);
    const bytes = bodyBuffer(body);
    const temp = await writeTempFile(dirname(path), basename(path), once(bytes), { createDir: true });
    const outcome = await publishExclusive(temp, path);
    if (outcome === 'exists') {
      const existing = await readFile(path);
      if (!existing.equals(bytes)) throw new ConflictError(key, 'a different object is already published under this key');
    }
    const stats = await statIfExists(path);
    if (!stats) throw new NotFoundError(key);
    return { outcome, etag: etagOfStats(stats) };
  }

  async put(key: string, body: ObjectBody): Promise<{ etag: string }> {
    const path = this.pathOf(key);
    return withFileLock(path, () => this.replace(path, key, bodyBuffer(body)));
  }

  async replaceIf(key: string, body: ObjectBody, expectedEtag: string): Promise<{ etag: string }> {
    const path = this.pathOf(key);
    return withFileLock(path, async () => {
      const current = await statIfExists(path);
      if (!current) throw new NotFoundError(key);
      const etag = etagOfStats(current);
      if (etag !== expectedEtag) throw new ConflictError(key, `expected version ${expectedEtag}, found ${etag}`);
      return this.replace(path, key, bodyBuffer(body));
    });
  }

  private async replace(path: string, key: string, bytes: Buffer): Promise<{ etag: string }> {
    const temp = await writeTempFile(dirname(path), basename(path), once(bytes), { createDir: true });
    await publishReplacing(temp, path);
    const stats = await statIfExists(path);
    if (!stats) throw new NotFoundError(key);
    return { etag: etagOfStats(stats) };
  }

  async getStream(key: string, range: ByteRange = {}): Promise<Readable> {
    const path = this.pathOf(key);
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR', 'EISDIR')) throw new NotFoundError(key);
      throw error;
    }
    try {
      const { size } = await handle.stat();
      if (range.start === undefined && range.end === undefined) return handle.createReadStream();
      const { start, end } = resolveRange(key, range, size);
      return handle.createReadStream({ start, end });
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async getBytes(key: string): Promise<Buffer> {
    try {
      return await readFile(this.pathOf(key));
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR', 'EISDIR')) throw new NotFoundError(key);
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async head(key: string): Promise<ObjectHead | undefined> {
    const stats = await statIfExists(this.pathOf(key));
    if (!stats) return undefined;
    return { size: Number(stats.size), etag: etagOfStats(stats), lastModified: stats.mtime };
  }

  async *list(prefix: string): AsyncIterable<ListedObject> {
    assertValidPrefix(prefix);
    // Walk only the deepest directory the prefix names fully; filter the rest by string.
    const slash = prefix.lastIndexOf('/');
    const startKey = slash >= 0 ? prefix.slice(0, slash) : '';
    yield* this.walk(startKey, prefix);
  }

  private async *walk(dirKey: string, prefix: string): AsyncGenerator<ListedObject> {
    const dir = dirKey === '' ? this.root : join(this.root, ...dirKey.split('/'));
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) return;
      throw error;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue; // temp files and locks of in-flight writes
      const key = dirKey === '' ? entry.name : `${dirKey}/${entry.name}`;
      if (entry.isDirectory()) {
        if (prefix.startsWith(key + '/') || key.startsWith(prefix) || (key + '/').startsWith(prefix)) yield* this.walk(key, prefix);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        const stats = await statIfExists(join(dir, entry.name));
        if (stats) yield { key, size: Number(stats.size), etag: etagOfStats(stats), lastModified: stats.mtime };
      }
    }
  }

  async close(): Promise<void> {}
}

