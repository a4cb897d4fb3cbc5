// Where the TUF metadata lives: beside the releases in the artifact store, under tuf/. Roots are
// versioned and immutable (N.root.json); targets, the publish role and snapshot are written as N.<role>.json (consistent
// snapshots: a reader follows the versions the role above pins, so a publish in progress never mixes
// versions) plus a plain copy for people; timestamp.json is replaced last, by compare-and-swap.
// Every read is bounded before parsing. The store is taken through the few methods used here, so this
// room does not depend on stores/ (an ArtifactStore fits).
import type { Readable } from 'node:stream';
import type { Metadata, Root } from '@tufjs/models';
import { InputTooLargeError, readAtMost } from '../platform/bounded-read.js';
import { TufNotInitializedError, TufOversizedError } from './errors.js';
import { metadataBytes, type TufSigned } from './metadata.js';
import { METADATA_LIMITS, parseMetadata } from './parse.js';
import type { TufRepository } from './repository.js';
import { verifyRootChain } from './root-rotation.js';
import { delegatesPublishing, PUBLISH_FILE, PUBLISH_ROLE, releaseView } from './publish-role.js';
import { trustedAfter, verifyPublished, verifyRepository, verifySnapshot, verifyTargets, verifyTimestamp, type TrustedVersions } from './verify-roles.js';

export interface MetadataStore {
  readonly location: string;
  head(key: string): Promise<{ etag: string } | undefined>;
  getStream(key: string): Promise<Readable>;
  createIfAbsent(key: string, body: Uint8Array): Promise<unknown>;
  put(key: string, body: Uint8Array): Promise<{ etag: string }>;
  replaceIf(key: string, body: Uint8Array, expectedEtag: string): Promise<{ etag: string }>;
}

/** What a verifier needs: a device reads the metadata through the gateway or an offline bundle. */
export type MetadataReader = Pick<MetadataStore, 'location' | 'head' | 'getStream'>;

export const TUF_PREFIX = 'tuf/';
export const rootKey = (version: number) => `${TUF_PREFIX}${version}.root.json`;
type VersionedRole = 'targets' | 'snapshot' | typeof PUBLISH_ROLE;
const versionedKey = (role: VersionedRole, version: number) => `${TUF_PREFIX}${version}.${role}.json`;
const latestKey = (role: VersionedRole | 'timestamp') => `${TUF_PREFIX}${role}.json`;

/** The repository as stored, with the timestamp's etag for the compare-and-swap of the next write. */
export interface StoredRepository {
  repo: TufRepository;
  timestampEtag: string;
}

export async function hasRepository(store: MetadataStore): Promise<boolean> {
  return (await store.head(rootKey(1))) !== undefined;
}

/** The stored repository (for the roles that change it); TUF_NOT_INITIALIZED when there is none. */
export async function readRepository(store: MetadataStore): Promise<StoredRepository> {
  const head = await store.head(latestKey('timestamp'));
  if (!head || !(await hasRepository(store))) throw new TufNotInitializedError(`no TUF repository in ${store.location}: run \`ota trust init\``);
  const roots: Array<Metadata<Root>> = [];
  for (let v = 1; await store.head(rootKey(v)); v++) roots.push(parseMetadata('root', await readBounded(store, rootKey(v), METADATA_LIMITS.root)));
  const timestamp = parseMetadata('timestamp', await readBounded(store, latestKey('timestamp'), METADATA_LIMITS.timestamp));
  const snapshot = parseMetadata('snapshot', await readBounded(store, versionedKey('snapshot', timestamp.signed.snapshotMeta.version), METADATA_LIMITS.snapshot));
  const targetsVersion = snapshot.signed.meta['targets.json']?.version ?? 1;
  const targets = parseMetadata('targets', await readBounded(store, versionedKey('targets', targetsVersion), METADATA_LIMITS.targets));
  const publishedVersion = snapshot.signed.meta[PUBLISH_FILE]?.version;
  const published = publishedVersion === undefined ? undefined : parseMetadata('targets', await readBounded(store, versionedKey(PUBLISH_ROLE, publishedVersion), METADATA_LIMITS.targets));
  const taken = {
    targets: await lastTaken(store, 'targets', targetsVersion),
    snapshot: await lastTaken(store, 'snapshot', snapshot.signed.version),
    ...(publishedVersion !== undefined && { published: await lastTaken(store, PUBLISH_ROLE, publishedVersion) }),
  };
  return { repo: { roots, targets, ...(published && { published }), snapshot, timestamp, taken }, timestampEtag: head.etag };
}

/**
 * Writes what changed from `before` (undefined: a new repository): new roots, then targets, then
 * snapshot, then the timestamp by compare-and-swap, so a reader sees the old repository or the new one.
 */
export async function writeRepository(store: MetadataStore, after: TufRepository, before?: StoredRepository): Promise<void> {
  // A wrong key file (say a targets key that is not the role's) fails here, before anything is written.
  verifyRepository(after, new Date());
  for (const root of after.roots.slice(before?.repo.roots.length ?? 0)) await store.createIfAbsent(rootKey(root.signed.version), metadataBytes(root));
  for (const role of ['targets', 'published', 'snapshot'] as const) {
    const metadata: Metadata<TufSigned> | undefined = after[role];
    if (!metadata || (before && before.repo[role]?.signed.version === metadata.signed.version)) continue;
    const name = role === 'published' ? PUBLISH_ROLE : role;
    await store.createIfAbsent(versionedKey(name, metadata.signed.version), metadataBytes(metadata));
    await store.put(latestKey(name), metadataBytes(metadata));
  }
  const timestamp = metadataBytes(after.timestamp);
  if (before) await store.replaceIf(latestKey('timestamp'), timestamp, before.timestampEtag);
  else await store.createIfAbsent(latestKey('timestamp'), timestamp);
}

export interface VerifiedRepository {
  root: Metadata<Root>;
  targets: TufRepository['targets'];
  seen: TrustedVersions;
}

/**
 * The client workflow against the store: the root chain from the pinned root (N+1, N+2, ... while
 * present), then timestamp, snapshot and targets, each checked by verify-roles.ts.
 */
export async function verifyStoredRepository(store: MetadataReader, pinned: Metadata<Root>, seen: TrustedVersions, now: Date): Promise<VerifiedRepository> {
  const newer: Buffer[] = [];
  for (let v = pinned.signed.version + 1; await store.head(rootKey(v)); v++) newer.push(await readBounded(store, rootKey(v), METADATA_LIMITS.root));
  const root = verifyRootChain(pinned, newer, now, seen.newestSignedTime);
  if (!(await store.head(latestKey('timestamp')))) throw new TufNotInitializedError(`${store.location} has no ${latestKey('timestamp')}`);
  const timestamp = verifyTimestamp(root, await readBounded(store, latestKey('timestamp'), METADATA_LIMITS.timestamp), seen, now);
  const snapshotVersion = timestamp.signed.snapshotMeta.version;
  const snapshot = verifySnapshot(root, await readBounded(store, versionedKey('snapshot', snapshotVersion), METADATA_LIMITS.snapshot), timestamp, seen, now);
  const targetsVersion = snapshot.signed.meta['targets.json']!.version;
  const targets = verifyTargets(root, await readBounded(store, versionedKey('targets', targetsVersion), METADATA_LIMITS.targets), snapshot, seen, now);
  // The publish role's manifests, when targets delegates it; verifiers look releases up in the merged view.
  const publishedMeta = snapshot.signed.meta[PUBLISH_FILE];
  const publishedBytes = publishedMeta && delegatesPublishing(targets) ? await readBounded(store, versionedKey(PUBLISH_ROLE, publishedMeta.version), METADATA_LIMITS.targets) : undefined;
  const published = verifyPublished(targets, publishedBytes, snapshot, seen, now);
  return { root, targets: releaseView(targets, published), seen: trustedAfter(seen, timestamp, snapshot, targets, published) };
}

/** The highest N.<role>.json from `current` on: files past it were written by a change that lost its race. */
async function lastTaken(store: MetadataStore, role: VersionedRole, current: number): Promise<number> {
  let version = current;
  while (await store.head(versionedKey(role, version + 1))) version++;
  return version;
}

async function readBounded(store: MetadataReader, key: string, limit: number): Promise<Buffer> {
  try {
    return await readAtMost(await store.getStream(key), limit, key);
  } catch (err) {
    if (err instanceof InputTooLargeError) throw new TufOversizedError(err.message, { cause: err });
    throw err;
  }
}
