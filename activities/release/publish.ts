// The last step: the manifest's bundle, then the manifest itself with a conditional create
// (it never replaces a different published manifest), then the channel index.
import { createHash } from 'node:crypto';
import { canonicalManifestBytes, canonicalReleaseIndexBytes, parseReleaseIndex, RELEASE_INDEX_SCHEMA_VERSION, type Manifest, type ReleaseIndex } from '../../schemas/manifest.js';
import { manifestBundleKey, manifestKey, releaseIndexKey } from '../../release/layout.js';
import { compareSemver } from '../../release/semver.js';
import type { PublishedRelease } from '../../release/types.js';
import { ConflictError, type ArtifactStore } from '../../stores/index.js';
import type { ReleaseActivityDeps } from './activity-deps.js';
import { releaseInputError } from './errors.js';

export async function publishRelease(ctx: ReleaseActivityDeps, manifest: Manifest, bundleText: string): Promise<PublishedRelease> {
  const store = ctx.store;
  const bytes = canonicalManifestBytes(manifest);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const mKey = manifestKey(manifest.hardwareId, manifest.version);
  const bKey = manifestBundleKey(manifest.hardwareId, manifest.version);

  const published = await store.head(mKey);
  if (published) {
    const existing = await store.getBytes(mKey);
    if (!existing.equals(Buffer.from(bytes))) {
      throw releaseInputError(`a different manifest for ${manifest.hardwareId} ${manifest.version} is already published at ${mKey}; refusing to replace it`);
    }
    // Byte-identical means this very release (same request, same workflow start time): an
    // earlier attempt of this step wrote it and died before answering. Another run of the same
    // version stops at inspect with 'existing', so this run did create it.
  } else {
    // Until the manifest exists nothing is published, so a stale bundle from an
    // earlier failed run may be replaced; after that, the bundle is immutable too.
    await store.put(bKey, bundleText);
    try {
      // 'exists' (identical bytes) is, as above, an earlier attempt of this same step.
      await store.createIfAbsent(mKey, bytes);
    } catch (err) {
      if (err instanceof ConflictError) throw releaseInputError(`a different manifest for ${manifest.hardwareId} ${manifest.version} was published concurrently at ${mKey}`);
      throw err;
    }
  }
  await addToIndex(store, manifest, { location: mKey, sha256 });
  return {
    hardwareId: manifest.hardwareId,
    version: manifest.version,
    channel: manifest.channel,
    manifestKey: mKey,
    manifestSha256: sha256,
    bundleKey: bKey,
    outcome: 'created',
    deltas: manifest.deltas.length,
    skippedDeltas: manifest.skippedDeltas.length,
  };
}

/** Compare-and-swap loop: concurrent releases of other versions never lose each other's entries. Idempotent. */
export async function addToIndex(store: ArtifactStore, manifest: Manifest, ref: { location: string; sha256: string }): Promise<void> {
  const key = releaseIndexKey(manifest.hardwareId, manifest.channel);
  for (let attempt = 0; attempt < 10; attempt++) {
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
