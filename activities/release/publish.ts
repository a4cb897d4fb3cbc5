// The last step: the manifest's bundle, then the manifest itself with a conditional create
// (it never replaces a different published manifest), then the channel index (release/catalog.ts).
import { createHash } from 'node:crypto';
import { canonicalManifestBytes, type ArtifactRef, type Manifest } from '../../schemas/manifest.js';
import { addIndexEntry, findPublishedManifest } from '../../release/catalog.js';
import { manifestBundleKey, manifestKey } from '../../release/layout.js';
import type { PublishedRelease } from '../../release/types.js';
import { ConflictError } from '../../stores/index.js';
import type { ReleaseActivityDeps } from './activity-deps.js';
import { releaseInputError } from './errors.js';
import { addManifestTarget } from './tuf-target.js';

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
  const ref = { location: mKey, sha256 };
  // A target before it is listed: a release a channel offers always verifies through TUF.
  await addManifestTarget(ctx, mKey, bytes, sha256);
  await addIndexEntry(store, manifest, ref);
  return describePublished(manifest, ref, 'created');
}

/**
 * The release of this version is already published: add its index entry if a crashed run left
 * it out (a release rollouts cannot see yet), and describe it as 'existing'.
 */
export async function completeExistingRelease(ctx: ReleaseActivityDeps, hardwareId: string, version: string): Promise<PublishedRelease> {
  const found = await findPublishedManifest(ctx.store, hardwareId, version);
  if (!found) throw releaseInputError(`release ${hardwareId} ${version} disappeared from the store`);
  const bytes = await ctx.store.getBytes(found.ref.location);
  await addManifestTarget(ctx, found.ref.location, bytes, found.ref.sha256);
  await addIndexEntry(ctx.store, found.manifest, found.ref);
  return describePublished(found.manifest, found.ref, 'existing');
}

function describePublished(manifest: Manifest, ref: ArtifactRef, outcome: PublishedRelease['outcome']): PublishedRelease {
  return {
    hardwareId: manifest.hardwareId,
    version: manifest.version,
    channel: manifest.channel,
    manifestKey: ref.location,
    manifestSha256: ref.sha256,
    bundleKey: manifestBundleKey(manifest.hardwareId, manifest.version),
    outcome,
    deltas: manifest.deltas.length,
    skippedDeltas: manifest.skippedDeltas.length,
  };
}
