// One behavioural contract, run against every artifact store backend: the local directory
// and S3 on a real versitygw bound to loopback.
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConflictError,
  DigestMismatchError,
  InvalidKeyError,
  InvalidRangeError,
  NotFoundError,
} from '../../stores/errors.js';
import { blobKey } from '../../stores/keys.js';
import type { ArtifactStore } from '../../stores/artifact-store.js';
import { localBackend, s3Backend, startVersityGw, type BackendUnderTest } from '../support/stores-backends.js';
import { collect, failingAfter, generatedBytes, sha256Hex } from '../support/stores-bytes.js';
import type { VersityGw } from '../support/versitygw.js';

let gateway: VersityGw | undefined;
beforeAll(async () => {
  gateway = await startVersityGw();
});
afterAll(async () => {
  await gateway?.stop();
});

const backends = [localBackend, s3Backend(() => gateway!)];

async function keysUnder(store: ArtifactStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const item of store.list(prefix)) keys.push(item.key);
  return keys.sort();
}

describe.each(backends)('artifact store contract: $name', (backend) => {
  let subject: BackendUnderTest;
  let store: ArtifactStore;
  beforeAll(async () => {
    subject = await backend.open();
    store = subject.store;
  });
  afterAll(async () => {
    await subject?.dispose();
  });

  it('round-trips a blob: put, head, get, list', async () => {
    const content = Buffer.from('firmware image v1.2.3 '.repeat(1000));
    const progress: number[] = [];
    const ref = await store.putBlob(Readable.from([content.subarray(0, 5000), content.subarray(5000)]), {
      onProgress: (bytes) => progress.push(bytes),
    });
    expect(ref).toEqual({ sha256: sha256Hex(content), size: content.length, key: blobKey(sha256Hex(content)) });
    expect(progress.at(-1)).toBe(content.length);
    expect((await store.head(ref.key))?.size).toBe(content.length);
    expect(await collect(await store.getStream(ref.key))).toEqual(content);
    expect(await store.getBytes(ref.key)).toEqual(content);
    expect(await keysUnder(store, 'blobs/sha256/')).toContain(ref.key);
  });

  it('round-trips named objects and lists by prefix', async () => {
    await store.createIfAbsent('releases/cam/1.0.0/manifest.json', '{"v":"1.0.0"}');
    await store.createIfAbsent('releases/cam/1.1.0/manifest.json', '{"v":"1.1.0"}');
    await store.put('releases/camera-extra/index.json', '[]');
    expect(await keysUnder(store, 'releases/cam/')).toEqual(['releases/cam/1.0.0/manifest.json', 'releases/cam/1.1.0/manifest.json']);
    // A prefix may end mid-segment, as in S3.
    expect(await keysUnder(store, 'releases/cam')).toEqual([
      'releases/cam/1.0.0/manifest.json',
      'releases/cam/1.1.0/manifest.json',
      'releases/camera-extra/index.json',
    ]);
    expect((await store.getBytes('releases/cam/1.1.0/manifest.json')).toString()).toBe('{"v":"1.1.0"}');
    expect(await keysUnder(store, 'nothing-here/')).toEqual([]);
  });

  it('treats storing identical content twice as a no-op', async () => {
    const content = Buffer.from('the same bytes, twice');
    const first = await store.putBlob(Readable.from([content]));
    const before = await store.head(first.key);
    const second = await store.putBlob(Readable.from([content]));
    expect(second).toEqual(first);
    // Immutable: the stored object was not rewritten.
    expect((await store.head(first.key))?.etag).toBe(before?.etag);
    expect((await keysUnder(store, 'blobs/')).filter((k) => k === first.key)).toHaveLength(1);
  });

  it('serves byte ranges with inclusive ends, clamped like HTTP Range', async () => {
    const content = Buffer.from('0123456789abcdefghij');
    const { key } = await store.putBlob(Readable.from([content]));
    expect((await collect(await store.getStream(key, { start: 3, end: 7 }))).toString()).toBe('34567');
    expect((await collect(await store.getStream(key, { start: 15 }))).toString()).toBe('fghij');
    expect((await collect(await store.getStream(key, { end: 2 }))).toString()).toBe('012');
    expect((await collect(await store.getStream(key, { start: 18, end: 1000 }))).toString()).toBe('ij');
    await expect(store.getStream(key, { start: 20 })).rejects.toBeInstanceOf(InvalidRangeError);
    await expect(store.getStream(key, { start: 5, end: 4 })).rejects.toBeInstanceOf(InvalidRangeError);
  });

  it('leaves no visible object and no garbage when the source fails halfway', async () => {
    const blobsBefore = await keysUnder(store, '');
    // 12 MiB: past the 5 MiB part size, so the S3 backend is mid-multipart when it fails.
    const failure = new Error('client connection dropped');
    await expect(store.putBlob(failingAfter(12 * 1024 * 1024, 1024 * 1024, failure))).rejects.toThrow('client connection dropped');
    expect(await keysUnder(store, '')).toEqual(blobsBefore);
    expect(await subject.leftovers()).toEqual([]);
  });

  it('publishes a named object once: identical retry succeeds, different bytes conflict', async () => {
    const key = 'releases/gateway/2.0.0/manifest.json';
    const created = await store.createIfAbsent(key, '{"version":"2.0.0"}');
    expect(created.outcome).toBe('created');
    const retried = await store.createIfAbsent(key, Buffer.from('{"version":"2.0.0"}'));
    expect(retried.outcome).toBe('exists');
    const error = await store.createIfAbsent(key, '{"version":"2.0.0","evil":true}').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as ConflictError).key).toBe(key);
    expect((await store.getBytes(key)).toString()).toBe('{"version":"2.0.0"}');
  });

  it('lets exactly one of several racing publishers win a key', async () => {
    const key = 'releases/race/1.0.0/manifest.json';
    const results = await Promise.allSettled([0, 1, 2, 3, 4].map((i) => store.createIfAbsent(key, `{"writer":${i}}`)));
    const winners = results.filter((r) => r.status === 'fulfilled');
    expect(winners).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ConflictError);
    const stored = (await store.getBytes(key)).toString();
    expect(stored).toMatch(/^\{"writer":\d\}$/);
    expect(await subject.leftovers()).toEqual([]);
  });

  it('rejects content that does not match the expected sha256 and stores nothing', async () => {
    const content = Buffer.from('tampered payload '.repeat(100));
    const claimed = sha256Hex('what the build system actually produced');
    const error = await store.putBlob(Readable.from([content]), { expectedSha256: claimed }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect((error as DigestMismatchError).actual).toBe(sha256Hex(content));
    expect(await store.head(blobKey(claimed))).toBeUndefined();
    expect(await store.head(blobKey(sha256Hex(content)))).toBeUndefined();
    expect(await subject.leftovers()).toEqual([]);

    const ok = await store.putBlob(Readable.from([content]), { expectedSha256: sha256Hex(content) });
    expect(ok.key).toBe(blobKey(sha256Hex(content)));
    expect(await store.getBytes(ok.key)).toEqual(content);
    // Same content with the digest promised again: idempotent.
    expect(await store.putBlob(Readable.from([content]), { expectedSha256: sha256Hex(content) })).toEqual(ok);
  });

  it('rejects a multipart-sized upload whose digest mismatches, leaving nothing', async () => {
    const digest: { sha256?: string } = {};
    const claimed = sha256Hex('something else');
    await expect(
      store.putBlob(generatedBytes(11 * 1024 * 1024, 1024 * 1024, digest), { expectedSha256: claimed }),
    ).rejects.toBeInstanceOf(DigestMismatchError);
    expect(await store.head(blobKey(claimed))).toBeUndefined();
    expect(await subject.leftovers()).toEqual([]);
  });

  it('replaces a mutable object only while it still has the expected version', async () => {
    const key = 'indexes/cam/stable.json';
    const first = await store.put(key, '{"latest":"1.0.0"}');
    const second = await store.replaceIf(key, '{"latest":"1.1.0"}', first.etag);
    expect(second.etag).not.toBe(first.etag);
    await expect(store.replaceIf(key, '{"latest":"0.9.0"}', first.etag)).rejects.toBeInstanceOf(ConflictError);
    expect((await store.getBytes(key)).toString()).toBe('{"latest":"1.1.0"}');
    expect((await store.head(key))?.etag).toBe(second.etag);
    await expect(store.replaceIf('indexes/none.json', '{}', first.etag)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('deletes an object (garbage collection of on-demand deltas); deleting an absent key is not an error', async () => {
    const blob = await store.putBlob(Readable.from([Buffer.from('on-demand delta bytes')]));
    expect(await store.head(blob.key)).toBeDefined();
    await store.delete(blob.key);
    expect(await store.head(blob.key)).toBeUndefined();
    expect(await keysUnder(store, blob.key)).toEqual([]);
    await store.delete(blob.key);
    await expect(store.delete('../escape')).rejects.toBeInstanceOf(InvalidKeyError);
  });

  it('reports missing objects as NotFound / undefined', async () => {
    expect(await store.head('releases/missing/manifest.json')).toBeUndefined();
    await expect(store.getStream('releases/missing/manifest.json')).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.getBytes('releases/missing/manifest.json')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('refuses keys that could escape the store or collide with in-flight uploads', async () => {
    for (const key of ['../../etc/passwd', '/abs', 'a//b', 'a/', '.staging/x', 'a/.tmp', '']) {
      await expect(store.createIfAbsent(key, 'x'), key).rejects.toBeInstanceOf(InvalidKeyError);
    }
  });
});
