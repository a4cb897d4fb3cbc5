// S3 backend (AWS or any S3-compatible server such as versitygw). Large uploads stream as
// multipart (memory ~ queueSize x partSize); publishes use conditional writes so a published
// object is never overwritten.
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  paginateListObjectsV2,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { S3StoreConfig } from '../schemas/config.js';
import type { ArtifactStore, BlobRef, ByteRange, ByteSource, CreateResult, ListedObject, ObjectBody, ObjectHead, PutBlobOptions } from './artifact-store.js';
import { ConflictError, NotFoundError, StoreError } from './errors.js';
import { checkExpectedSha256, hashingChunks, type DigestTally } from './hashing.js';
import { assertValidKey, assertValidPrefix, blobKey, isReservedKey } from './keys.js';
import { bodyBuffer } from './object-body.js';
import { rangeHeader } from './range.js';
import {
  isConditionalRequestConflict,
  isPreconditionFailed,
  translateS3Error,
  type S3ErrorContext,
} from './s3-errors.js';

const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;
const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
const DEFAULT_PART_SIZE_MIB = 8;
const UPLOAD_QUEUE_SIZE = 4;

export interface S3StoreOptions {
  /** Overrides the default AWS credential chain (env, shared config, SSO, IMDS...). */
  credentials?: S3ClientConfig['credentials'];
}

export class S3ArtifactStore implements ArtifactStore {
  readonly location: string;
  private readonly client: S3Client;
  private readonly errors: S3ErrorContext;
  private readonly partSize: number;

  constructor(
    private readonly config: S3StoreConfig,
    options: S3StoreOptions = {},
  ) {
    this.location = `s3://${config.bucket}/${config.prefix}`;
    this.errors = {
      endpoint: config.endpoint ?? `https://s3.${config.region}.amazonaws.com`,
      maxAttempts: config.maxAttempts,
    };
    this.partSize = (config.partSizeMiB ?? DEFAULT_PART_SIZE_MIB) * 1024 * 1024;
    this.client = new S3Client({
      region: config.region,
      endpoint: config.endpoint,
      forcePathStyle: config.forcePathStyle,
      maxAttempts: config.maxAttempts,
      credentials: options.credentials ?? config.credentials,
      // Without these an unreachable or silent endpoint can hang a request for minutes.
      requestHandler: {
        connectionTimeout: config.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
        socketTimeout: config.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      },
    });
  }

  private fullKey(key: string): string {
    return this.config.prefix + key;
  }

  private fail(error: unknown, operation: string, key: string): Error {
    return translateS3Error(error, this.errors, operation, key);
  }

  async putBlob(source: ByteSource, options: PutBlobOptions = {}): Promise<BlobRef> {
    checkExpectedSha256(options.expectedSha256);
    const tally: DigestTally = { size: 0 };
    const body = Readable.from(hashingChunks(source, tally, options), { objectMode: false });
    if (options.expectedSha256 !== undefined) {
      // Known digest: upload straight to the final key. A mismatch is detected before the
      // last part is sent, so the multipart upload is aborted and nothing becomes visible.
      const key = blobKey(options.expectedSha256);
      await this.uploadStream(key, body, true);
      return { sha256: options.expectedSha256, size: tally.size, key };
    }
    // Unknown digest: the key is only known at the end, so stage under a reserved (never
    // listed) key and copy server-side. Copy is limited to 5 GiB by S3.
    const staging = `.staging/${randomUUID()}`;
    // A failed upload was aborted and left nothing; only a completed staging object needs removal.
    await this.uploadStream(staging, body, false);
    try {
      const key = blobKey(tally.sha256!);
      if (!(await this.head(key))) await this.copyIfAbsent(staging, key);
      return { sha256: tally.sha256!, size: tally.size, key };
    } finally {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.config.bucket, Key: this.fullKey(staging) })).catch(() => {});
    }
  }

  /** Multipart for large bodies; on any failure lib-storage aborts the upload (no visible object). */
  private async uploadStream(key: string, body: Readable, ifAbsent: boolean): Promise<void> {
    const upload = new Upload({
      client: this.client,
      queueSize: UPLOAD_QUEUE_SIZE,
      partSize: this.partSize,
      leavePartsOnError: false,
      params: {
        Bucket: this.config.bucket,
        Key: this.fullKey(key),
        Body: body,
        ...(ifAbsent ? { IfNoneMatch: '*' } : {}),
      },
    });
    try {
      await upload.done();
    } catch (error) {
      // Content-addressed: an existing object under the same digest holds the same bytes.
      if (ifAbsent && (isPreconditionFailed(error) || isConditionalRequestConflict(error))) return;
      body.destroy();
      throw this.fail(error, 'upload', key);
    }
  }

  private async copyIfAbsent(fromKey: string, toKey: string): Promise<void> {
    const copySource = `${this.config.bucket}/${this.fullKey(fromKey).split('/').map(encodeURIComponent).join('/')}`;
    try {
      await this.client.send(
        new CopyObjectCommand({ Bucket: this.config.bucket, Key: this.fullKey(toKey), CopySource: copySource, IfNoneMatch: '*' }),
      );
    } catch (error) {
      if (isPreconditionFailed(error) || isConditionalRequestConflict(error)) return;
      throw this.fail(error, 'CopyObject', toKey);
    }
  }

  async createIfAbsent(key: string, body: ObjectBody): Promise<CreateResult> {
    assertValidKey(key);
    const bytes = bodyBuffer(body);
    try {
      const result = await this.client.send(
        new PutObjectCommand({ Bucket: this.config.bucket, Key: this.fullKey(key), Body: bytes, IfNoneMatch: '*' }),
      );
      return { outcome: 'created', etag: result.ETag ?? '' };
    } catch (error) {
      if (isConditionalRequestConflict(error) && !isPreconditionFailed(error)) {
        throw new ConflictError(key, 'another conditional write to this key is in progress; retry');
      }
      if (!isPreconditionFailed(error)) throw this.fail(error, 'PutObject', key);
    }
    const existing = await this.getBytes(key);
    if (!existing.equals(bytes)) throw new ConflictError(key, 'a different object is already published under this key');
    const head = await this.head(key);
    return { outcome: 'exists', etag: head?.etag ?? '' };
  }

  async put(key: string, body: ObjectBody): Promise<{ etag: string }> {
    assertValidKey(key);
    try {
      const result = await this.client.send(new PutObjectCommand({ Bucket: this.config.bucket, Key: this.fullKey(key), Body: bodyBuffer(body) }));
      return { etag: result.ETag ?? '' };
    } catch (error) {
      throw this.fail(error, 'PutObject', key);
    }
  }

  async replaceIf(key: string, body: ObjectBody, expectedEtag: string): Promise<{ etag: string }> {
    assertValidKey(key);
    try {
      const result = await this.client.send(
        new PutObjectCommand({ Bucket: this.config.bucket, Key: this.fullKey(key), Body: bodyBuffer(body), IfMatch: expectedEtag }),
      );
      return { etag: result.ETag ?? '' };
    } catch (error) {
      if (isPreconditionFailed(error) || isConditionalRequestConflict(error)) {
        throw new ConflictError(key, `the object no longer has version ${expectedEtag}`);
      }
      throw this.fail(error, 'PutObject', key);
    }
  }

  async getStream(key: string, range: ByteRange = {}): Promise<Readable> {
    assertValidKey(key);
    const Range = rangeHeader(key, range);
    try {
      const result = await this.client.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: this.fullKey(key), Range }));
      if (!(result.Body instanceof Readable)) throw new StoreError(`S3 GetObject ${key} returned no Node stream`);
      return result.Body;
    } catch (error) {
      throw this.fail(error, 'GetObject', key);
    }
  }

  async getBytes(key: string): Promise<Buffer> {
    assertValidKey(key);
    try {
      const result = await this.client.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: this.fullKey(key) }));
      if (!result.Body) throw new NotFoundError(key);
      return Buffer.from(await result.Body.transformToByteArray());
    } catch (error) {
      throw this.fail(error, 'GetObject', key);
    }
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.config.bucket, Key: this.fullKey(key) }));
    } catch (error) {
      const translated = this.fail(error, 'DeleteObject', key);
      if (!(translated instanceof NotFoundError)) throw translated;
    }
  }

  async head(key: string): Promise<ObjectHead | undefined> {
    assertValidKey(key);
    try {
      const result = await this.client.send(new HeadObjectCommand({ Bucket: this.config.bucket, Key: this.fullKey(key) }));
      return { size: result.ContentLength ?? 0, etag: result.ETag ?? '', lastModified: result.LastModified };
    } catch (error) {
      const translated = this.fail(error, 'HeadObject', key);
      if (translated instanceof NotFoundError) return undefined;
      throw translated;
    }
  }

  async *list(prefix: string): AsyncIterable<ListedObject> {
    assertValidPrefix(prefix);
    const pages = paginateListObjectsV2({ client: this.client }, { Bucket: this.config.bucket, Prefix: this.fullKey(prefix) });
    try {
      for await (const page of pages) {
        for (const item of page.Contents ?? []) {
          if (!item.Key) continue;
          const key = item.Key.slice(this.config.prefix.length);
          if (isReservedKey(key)) continue; // staging objects of in-flight uploads
          yield { key, size: item.Size ?? 0, etag: item.ETag ?? '', lastModified: item.LastModified };
        }
      }
    } catch (error) {
      throw this.fail(error, 'ListObjectsV2', prefix);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
