// The storage contract every backend (local directory, S3) fulfils. Blobs are immutable and
// content-addressed; named objects are either published once (createIfAbsent) or mutable
// with compare-and-swap (replaceIf).
import type { Readable } from 'node:stream';

export type ObjectBody = Uint8Array | string;

/** Anything yielding bytes: a Node Readable, a (async) generator, an array of chunks, a web stream via Readable.fromWeb. */
export type ByteSource = AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>;

export interface BlobRef {
  sha256: string;
  size: number;
  key: string;
}

export interface PutBlobOptions {
  /** Reject (storing nothing) unless the content hashes to this lowercase hex sha256. */
  expectedSha256?: string;
  /** Called with the number of bytes consumed from the source so far. */
  onProgress?: (bytes: number) => void;
  signal?: AbortSignal;
}

export interface ObjectHead {
  size: number;
  /** Opaque version tag; pass it to replaceIf. Changes whenever the object is replaced. */
  etag: string;
  lastModified?: Date;
}

export interface ListedObject extends ObjectHead {
  key: string;
}

/** Byte range, both ends inclusive as in HTTP Range; end is clamped to the object size. */
export interface ByteRange {
  start?: number;
  end?: number;
}

export interface CreateResult {
  /** created: this call published it; exists: identical bytes were already there. */
  outcome: 'created' | 'exists';
  etag: string;
}

export interface ArtifactStore {
  /** Human-readable location for logs and errors, e.g. "local:/var/ota" or "s3://bucket/prefix". */
  readonly location: string;

  /** Streams content into blobs/sha256/<hex>; storing identical content again is a no-op. */
  putBlob(source: ByteSource, options?: PutBlobOptions): Promise<BlobRef>;

  /** Publishes key once. Identical bytes already there succeed; different bytes raise ConflictError. */
  createIfAbsent(key: string, body: ObjectBody): Promise<CreateResult>;

  /** Unconditional atomic replace, for mutable objects. */
  put(key: string, body: ObjectBody): Promise<{ etag: string }>;

  /** Replaces key only while it still has expectedEtag (ConflictError otherwise, NotFoundError if absent). */
  replaceIf(key: string, body: ObjectBody, expectedEtag: string): Promise<{ etag: string }>;

  /** Streams an object or a byte range of it; NotFoundError if absent. */
  getStream(key: string, range?: ByteRange): Promise<Readable>;

  /** Reads a small object whole (manifests, indexes). */
  getBytes(key: string): Promise<Buffer>;

  head(key: string): Promise<ObjectHead | undefined>;

  /** Removes an object (garbage collection of on-demand deltas); an absent key is not an error. */
  delete(key: string): Promise<void>;

  /** Every object whose key starts with prefix; order unspecified. In-flight uploads are never listed. */
  list(prefix: string): AsyncIterable<ListedObject>;

  close(): Promise<void>;
}
