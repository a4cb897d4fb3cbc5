// Releases laid out in an artifact store the way the pipeline lays them out (image blob, one evidence
// blob for every evidence reference, canonical manifest, manifest bundle, channel index), but not
// signed: for gateway and rollout tests that read the layout and never verify it.
import { createHash } from 'node:crypto';
import { manifestBundleKey, manifestKey, releaseIndexKey } from '../../release/layout.js';
import { canonicalManifestBytes, canonicalReleaseIndexBytes, type Manifest, type ReleaseIndexEntry } from '../../schemas/manifest.js';
import type { ArtifactStore, BlobRef } from '../../stores/artifact-store.js';

const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

export interface StubRelease {
  hardwareId: string;
  version: string;
  image: Uint8Array;
  securityVersion?: number;
  deltas?: Manifest['deltas'];
  /** The manifest bundle's bytes (nothing reads them as a bundle); default '{}'. */
  manifestBundle?: string;
}

/** Puts the release's blobs, manifest and bundle into the store; returns its index entry and image blob. */
export async function publishStubRelease(store: ArtifactStore, release: StubRelease): Promise<{ entry: ReleaseIndexEntry; image: BlobRef }> {
  const { hardwareId, version, securityVersion = 1 } = release;
  const image = await store.putBlob([release.image]);
  const evidence = await store.putBlob([`evidence for ${version}`]);
  const ref = { location: evidence.key, sha256: evidence.sha256 };
  const manifest: Manifest = {
    schemaVersion: 1, hardwareId, version, securityVersion, channel: 'stable',
    created: '2026-01-01T00:00:00Z', expires: '2036-01-01T00:00:00Z',
    image: { sha256: image.sha256, length: image.size, location: image.key, compression: 'none' },
    imageSignatureBundle: ref, deltas: release.deltas ?? [], skippedDeltas: [], sbom: ref, vex: ref, openvex: ref, provenance: ref,
  };
  const bytes = canonicalManifestBytes(manifest);
  await store.createIfAbsent(manifestKey(hardwareId, version), bytes);
  await store.createIfAbsent(manifestBundleKey(hardwareId, version), release.manifestBundle ?? '{}');
  return { entry: { version, securityVersion, created: '2026-01-01T00:00:00Z', manifest: { location: manifestKey(hardwareId, version), sha256: sha256(bytes) } }, image };
}

/** Writes the hardware's `stable` channel index listing these releases. */
export async function writeStubIndex(store: ArtifactStore, hardwareId: string, releases: ReleaseIndexEntry[]): Promise<void> {
  await store.put(releaseIndexKey(hardwareId, 'stable'), canonicalReleaseIndexBytes({ schemaVersion: 1, hardwareId, channel: 'stable', updated: '2026-01-02T00:00:00Z', releases }));
}
