// A release's signed manifest as the gateway reads it: the bytes the channel index pins by digest,
// parsed. A store that disagrees with its own index gets nothing out (502), whether for an offer, an
// attestation's allowed measurements or a heartbeat's drift.
import { createHash } from 'node:crypto';
import { parseManifest, type Manifest, type ReleaseIndexEntry } from '../schemas/manifest.js';
import type { ArtifactStore } from '../stores/artifact-store.js';
import { HttpError } from './http.js';

export async function readPinnedManifest(store: ArtifactStore, hardwareId: string, entry: ReleaseIndexEntry): Promise<{ bytes: Buffer; manifest: Manifest }> {
  const bytes = await store.getBytes(entry.manifest.location);
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (digest !== entry.manifest.sha256) {
    throw new HttpError(502, 'release-store-inconsistent', `manifest of ${hardwareId} ${entry.version} hashes to ${digest}, the index pins ${entry.manifest.sha256}`);
  }
  return { bytes, manifest: parseManifest(bytes, { ignoreUnknownDeltaFormats: true }) };
}
