// The release catalog: the per-channel release indexes (release/layout.ts says where they live)
// and the published manifests they point at. Activities, the CLI and the gateway read and
// write the catalog only through here. Index updates are compare-and-swap, so concurrent
// releases of other versions never lose each other's entries.
import { createHash } from 'node:crypto';
import {
  canonicalReleaseIndexBytes,
  parseManifest,
  parseReleaseIndex,
  RELEASE_INDEX_SCHEMA_VERSION,
  type ArtifactRef,
  type Manifest,
  type ReleaseIndex,
  type ReleaseIndexEntry,
} from '../schemas/manifest.js';
import type { ArtifactStore } from '../stores/artifact-store.js';
import { ConflictError, NotFoundError } from '../stores/errors.js';
import { hardwarePrefix, manifestKey, releaseIndexKey } from './layout.js';
import { compareSemver } from './semver.js';
import type { ManifestSummary } from './types.js';

const INDEX_UPDATE_ATTEMPTS = 10;

/** The index of one channel; empty when nothing was published on it yet. */
export async function readChannelIndex(store: ArtifactStore, hardwareId: string, channel: string): Promise<ReleaseIndexEntry[]> {
  try {
    return parseReleaseIndex(await store.getBytes(releaseIndexKey(hardwareId, channel))).releases;
  } catch (error) {
    if (error instanceof NotFoundError) return [];
    throw error;
  }
}

/** The indexes of every channel of one hardware id, by channel. */
export async function readChannelIndexes(store: ArtifactStore, hardwareId: string): Promise<Map<string, ReleaseIndexEntry[]>> {
  const result = new Map<string, ReleaseIndexEntry[]>();
  for await (const object of store.list(hardwarePrefix(hardwareId))) {
    if (!object.key.endsWith('/index.json')) continue;
    const index = parseReleaseIndex(await store.getBytes(object.key));
    result.set(index.channel, index.releases);
  }
  return result;
}

export interface PublishedManifest {
  manifest: Manifest;
  /** Where it lives in the store and the sha256 of its bytes, as an index entry pins them. */
  ref: ArtifactRef;
}

/** The published manifest of one release, or undefined when that version is not published. */
export async function findPublishedManifest(store: ArtifactStore, hardwareId: string, version: string): Promise<PublishedManifest | undefined> {
  const key = manifestKey(hardwareId, version);
  if (!(await store.head(key))) return undefined;
  const bytes = await store.getBytes(key);
  return { manifest: parseManifest(bytes), ref: { location: key, sha256: createHash('sha256').update(bytes).digest('hex') } };
}

export function summarizeManifest({ manifest, ref }: PublishedManifest): ManifestSummary {
  return { manifestKey: ref.location, manifestSha256: ref.sha256, imageSha256: manifest.image.sha256, channel: manifest.channel };
}

/** Adds the manifest's release to its channel index (creating the index); a version already listed is left as it is. */
export async function addIndexEntry(store: ArtifactStore, manifest: Manifest, ref: ArtifactRef): Promise<void> {
  const key = releaseIndexKey(manifest.hardwareId, manifest.channel);
  for (let attempt = 0; attempt < INDEX_UPDATE_ATTEMPTS; attempt++) {
    const head = await store.head(key);
    const index: ReleaseIndex = head
      ? parseReleaseIndex(await store.getBytes(key))
      : { schemaVersion: RELEASE_INDEX_SCHEMA_VERSION, hardwareId: manifest.hardwareId, channel: manifest.channel, updated: manifest.created, releases: [] };
    if (index.releases.some((r) => r.version === manifest.version)) return;
    index.releases = [...index.releases, { version: manifest.version, securityVersion: manifest.securityVersion, created: manifest.created, manifest: ref }].sort((a, b) =>
      compareSemver(a.version, b.version),
    );
    index.updated = manifest.created > index.updated ? manifest.created : index.updated;
    const body = canonicalReleaseIndexBytes(index);
    try {
      if (head) await store.replaceIf(key, body, head.etag);
      else await store.createIfAbsent(key, body);
      return;
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
    }
  }
  throw new Error(`could not update ${key}: too many concurrent changes`);
}
