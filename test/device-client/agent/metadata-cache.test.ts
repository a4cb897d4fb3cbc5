// The device's cache of versioned TUF metadata: fetched files are kept only on commit (after a
// verified walk), served from disk after that without asking the source, timestamp.json always
// comes from the source, files are owner-only, and only the newest versions of snapshot and targets stay.
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachingMetadataReader } from '../../../device-client/agent/metadata-cache.js';
import { readAtMost } from '../../../platform/bounded-read.js';
import type { MetadataReader } from '../../../trust/metadata-store.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ota-tuf-cache-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** An in-memory source that counts what it is asked for. */
function source(files: Record<string, string>) {
  const asked: string[] = [];
  const reader: MetadataReader = {
    location: 'test-source',
    async head(key) {
      asked.push(`head ${key}`);
      return key in files ? { etag: key } : undefined;
    },
    async getStream(key) {
      asked.push(`get ${key}`);
      if (!(key in files)) throw new Error(`no ${key}`);
      return Readable.from([Buffer.from(files[key]!)]);
    },
  };
  return { reader, asked };
}
const read = async (r: MetadataReader, key: string) => (await readAtMost(await r.getStream(key), 1 << 20, key)).toString();

describe('cachingMetadataReader', () => {
  it('keeps fetched versioned files only on commit, then serves them without the source', async () => {
    const cacheDir = join(dir, 'a');
    const first = source({ 'tuf/3.targets.json': 'targets-3', 'tuf/timestamp.json': 'ts-1', 'tuf/2.root.json': 'root-2' });
    const walk = cachingMetadataReader(first.reader, cacheDir);
    expect(await read(walk, 'tuf/3.targets.json')).toBe('targets-3');
    expect(await read(walk, 'tuf/2.root.json')).toBe('root-2');
    // A walk that fails never commits: nothing is kept.
    expect(await readdir(cacheDir).catch(() => [])).toEqual([]);
    await walk.commit();
    expect((await readdir(cacheDir)).sort()).toEqual(['2.root.json', '3.targets.json']);
    expect((await stat(cacheDir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(cacheDir, '3.targets.json'))).mode & 0o777).toBe(0o600);

    const second = source({ 'tuf/timestamp.json': 'ts-2' });
    const again = cachingMetadataReader(second.reader, cacheDir);
    expect(await again.head('tuf/2.root.json')).toBeDefined();
    expect(await read(again, 'tuf/3.targets.json')).toBe('targets-3');
    expect(await read(again, 'tuf/timestamp.json')).toBe('ts-2');
    expect(await again.head('tuf/3.root.json')).toBeUndefined();
    // Only the timestamp and the unknown root went to the source.
    expect(second.asked).toEqual(['get tuf/timestamp.json', 'head tuf/3.root.json']);
  });

  it('keeps the two newest snapshot and targets versions, and every root', async () => {
    const cacheDir = join(dir, 'b');
    for (const v of [1, 2, 3, 4]) {
      const s = source({ [`tuf/${v}.snapshot.json`]: `s${v}`, [`tuf/${v}.targets.json`]: `t${v}`, [`tuf/${v}.root.json`]: `r${v}` });
      const r = cachingMetadataReader(s.reader, cacheDir);
      for (const role of ['snapshot', 'targets', 'root']) await read(r, `tuf/${v}.${role}.json`);
      await r.commit();
    }
    expect((await readdir(cacheDir)).sort()).toEqual(['1.root.json', '2.root.json', '3.root.json', '3.snapshot.json', '3.targets.json', '4.root.json', '4.snapshot.json', '4.targets.json']);
  });

  it('bounds what it fetches by the role limit before keeping it', async () => {
    const huge = 'x'.repeat(1024 * 1024 + 1); // the snapshot limit is 1 MiB
    const s = source({ 'tuf/9.snapshot.json': huge });
    await expect(cachingMetadataReader(s.reader, join(dir, 'c')).getStream('tuf/9.snapshot.json')).rejects.toThrow(/9\.snapshot\.json/);
  });
});
