// The channel indexes check-ins read, parsed once per version of the index object: each check-in
// asks the store for the index's etag (a stat for the local store, a HEAD for S3; concurrent
// check-ins share one) and parses the bytes again only when it changed, so a publish is seen on the
// next check-in. The cached entries
// are frozen: callers filter and sort copies.
import { parseReleaseIndex, type ReleaseIndexEntry } from '../schemas/manifest.js';
import { releaseIndexKey } from '../release/layout.js';
import type { ArtifactStore } from '../stores/artifact-store.js';
import { NotFoundError } from '../stores/errors.js';

interface Cached {
  etag: string | undefined;
  entries: readonly ReleaseIndexEntry[];
}

const EMPTY: readonly ReleaseIndexEntry[] = Object.freeze([]);

export class ChannelIndexCache {
  private readonly byKey = new Map<string, Cached>();
  private readonly headsInFlight = new Map<string, ReturnType<ArtifactStore['head']>>();

  constructor(private readonly store: ArtifactStore) {}

  /** The index of one channel, as readChannelIndex reads it (empty when nothing was published). */
  async entries(hardwareId: string, channel: string): Promise<ReleaseIndexEntry[]> {
    const key = releaseIndexKey(hardwareId, channel);
    const cached = this.byKey.get(key);
    const head = await this.head(key);
    if (cached && cached.etag === head?.etag) return cached.entries as ReleaseIndexEntry[];
    const entries = head ? await this.read(key) : EMPTY;
    // The etag read before the bytes: a replace in between makes the next call read again, never serve old bytes as new.
    this.byKey.set(key, { etag: head?.etag, entries });
    return entries as ReleaseIndexEntry[];
  }

  /**
   * Check-ins that arrive while a stat/HEAD of the same index is under way share it: one per burst
   * instead of one per check-in. A publish that lands during that stat is seen from the next one.
   */
  private head(key: string): ReturnType<ArtifactStore['head']> {
    let head = this.headsInFlight.get(key);
    if (!head) {
      head = this.store.head(key).finally(() => this.headsInFlight.delete(key));
      this.headsInFlight.set(key, head);
    }
    return head;
  }

  private async read(key: string): Promise<readonly ReleaseIndexEntry[]> {
    try {
      return Object.freeze(parseReleaseIndex(await this.store.getBytes(key)).releases.map((e) => Object.freeze(e)));
    } catch (error) {
      if (error instanceof NotFoundError) return EMPTY;
      throw error;
    }
  }
}

/** One cache per artifact store, so every gateway (and test) on a store shares it and no store leaks into another's. */
const caches = new WeakMap<ArtifactStore, ChannelIndexCache>();

export function channelIndexCache(store: ArtifactStore): ChannelIndexCache {
  let cache = caches.get(store);
  if (!cache) caches.set(store, (cache = new ChannelIndexCache(store)));
  return cache;
}
