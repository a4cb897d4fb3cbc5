// The channel-index cache the check-in reads through: fresh on every call (by the store's etag)
// unless a TTL is given, parsed only when the index object changed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ChannelIndexCache, channelIndexCache } from '../../gateway/offer-cache.js';
import { releaseIndexKey } from '../../release/layout.js';
import { readChannelIndex } from '../../release/catalog.js';
import { canonicalReleaseIndexBytes, RELEASE_INDEX_SCHEMA_VERSION, type ReleaseIndexEntry } from '../../schemas/manifest.js';
import { LocalArtifactStore } from '../../stores/local-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function store() {
  const dir = mkdtempSync(join(tmpdir(), 'ota-offer-cache-'));
  dirs.push(dir);
  return new LocalArtifactStore(dir);
}
const entry = (version: string): ReleaseIndexEntry => ({ version, securityVersion: 0, created: '2026-01-01T00:00:00Z', manifest: { location: `releases/hw-c/${version}/manifest.json`, sha256: 'd'.repeat(64) } });
const indexBytes = (versions: string[]) =>
  canonicalReleaseIndexBytes({ schemaVersion: RELEASE_INDEX_SCHEMA_VERSION, hardwareId: 'hw-c', channel: 'stable', updated: '2026-01-01T00:00:00Z', releases: versions.map(entry) });
const KEY = releaseIndexKey('hw-c', 'stable');

describe('channel index cache', () => {
  it('reads what readChannelIndex reads, empty before the first publish, and sees each publish on the next call', async () => {
    const s = store();
    const cache = new ChannelIndexCache(s);
    expect(await cache.entries('hw-c', 'stable')).toEqual([]);
    await s.createIfAbsent(KEY, indexBytes(['1.0.0']));
    expect(await cache.entries('hw-c', 'stable')).toEqual(await readChannelIndex(s, 'hw-c', 'stable'));
    const head = (await s.head(KEY))!;
    await s.replaceIf(KEY, indexBytes(['1.0.0', '1.1.0']), head.etag);
    expect((await cache.entries('hw-c', 'stable')).map((e) => e.version)).toEqual(['1.0.0', '1.1.0']);
  });

  it('parses the bytes once per version of the index object', async () => {
    const s = store();
    await s.createIfAbsent(KEY, indexBytes(['1.0.0']));
    const reads = vi.spyOn(s, 'getBytes');
    const cache = new ChannelIndexCache(s);
    const first = await cache.entries('hw-c', 'stable');
    for (let i = 0; i < 5; i++) expect(await cache.entries('hw-c', 'stable')).toBe(first);
    expect(reads).toHaveBeenCalledTimes(1);
    expect(Object.isFrozen(first) && Object.isFrozen(first[0])).toBe(true);
  });

  it('concurrent check-ins share one stat of the index; the next burst stats again and sees a publish', async () => {
    const s = store();
    await s.createIfAbsent(KEY, indexBytes(['1.0.0']));
    const heads = vi.spyOn(s, 'head');
    const cache = new ChannelIndexCache(s);
    const burst = await Promise.all(Array.from({ length: 20 }, () => cache.entries('hw-c', 'stable')));
    expect(burst.every((entries) => entries.length === 1)).toBe(true);
    expect(heads).toHaveBeenCalledTimes(1);
    await s.replaceIf(KEY, indexBytes(['1.0.0', '1.1.0']), (await s.head(KEY))!.etag);
    heads.mockClear();
    expect((await cache.entries('hw-c', 'stable')).map((e) => e.version)).toEqual(['1.0.0', '1.1.0']);
    expect(heads).toHaveBeenCalledTimes(1);
  });

  it('keeps one cache per store, so two stores never share an index', async () => {
    const [a, b] = [store(), store()];
    await a.createIfAbsent(KEY, indexBytes(['1.0.0']));
    expect(channelIndexCache(a)).toBe(channelIndexCache(a));
    expect(await channelIndexCache(a).entries('hw-c', 'stable')).toHaveLength(1);
    expect(await channelIndexCache(b).entries('hw-c', 'stable')).toEqual([]);
  });

  it('a broken index still fails loudly, as readChannelIndex does', async () => {
    const s = store();
    await s.createIfAbsent(KEY, Buffer.from('{"not":"an index"}'));
    await expect(new ChannelIndexCache(s).entries('hw-c', 'stable')).rejects.toThrow();
  });
});
