// Versioned TUF files (N.root.json, N.snapshot.json, N.targets.json) never change once published
// (consistent snapshots), so a device keeps the ones of its last verified walk and asks its source
// again only for timestamp.json and names it has not seen: an idle check-in costs a timestamp, not a
// 16 MiB targets file. Every byte is still verified on every walk; files are kept only after the walk
// that read them verified (a source serving garbage cannot poison the cache), newest versions only.
import { Readable } from 'node:stream';
import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../platform/atomic-write.js';
import { readAtMost } from '../../platform/bounded-read.js';
import { METADATA_LIMITS } from '../../trust/parse.js';
import { TUF_PREFIX, type MetadataReader } from '../../trust/metadata-store.js';

const VERSIONED = /^([1-9][0-9]*)\.(root|snapshot|targets)\.json$/;

/** Versions of each role kept: the current one and the one before it. */
const KEEP = 2;

export interface CachingReader extends MetadataReader {
  /** After a verified walk: keep what it fetched, drop older versions. */
  commit(): Promise<void>;
}

export function cachingMetadataReader(source: MetadataReader, dir: string): CachingReader {
  const fetched = new Map<string, Buffer>();
  const cachedName = (key: string) => (key.startsWith(TUF_PREFIX) && VERSIONED.test(key.slice(TUF_PREFIX.length)) ? key.slice(TUF_PREFIX.length) : undefined);
  const cached = async (name: string) => readFile(join(dir, name)).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)));
  return {
    location: source.location,
    async head(key) {
      const name = cachedName(key);
      if (name && (await cached(name))) return { etag: `cached:${name}` };
      return source.head(key);
    },
    async getStream(key) {
      const name = cachedName(key);
      if (!name) return source.getStream(key);
      const hit = await cached(name);
      if (hit) return Readable.from([hit]);
      // Bounded here as the walk bounds it (the role's limit), kept in memory until commit.
      const role = VERSIONED.exec(name)![2] as 'root' | 'snapshot' | 'targets';
      const bytes = await readAtMost(await source.getStream(key), METADATA_LIMITS[role], key);
      fetched.set(name, bytes);
      return Readable.from([bytes]);
    },
    async commit() {
      if (fetched.size === 0) return;
      await mkdir(dir, { recursive: true, mode: 0o700 });
      for (const [name, bytes] of fetched) await writeFileAtomic(join(dir, name), bytes, { mode: 0o600 });
      fetched.clear();
      await prune(dir);
    },
  };
}

async function prune(dir: string): Promise<void> {
  const byRole = new Map<string, number[]>();
  for (const name of await readdir(dir)) {
    const m = VERSIONED.exec(name);
    if (m) byRole.set(m[2]!, [...(byRole.get(m[2]!) ?? []), Number(m[1])]);
  }
  for (const [role, versions] of byRole) {
    // Roots stay: a chain walk from an old pin may need them (they are small).
    if (role === 'root') continue;
    for (const v of versions.sort((a, b) => b - a).slice(KEEP)) await unlink(join(dir, `${v}.${role}.json`));
  }
}
