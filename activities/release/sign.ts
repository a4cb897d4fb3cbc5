// Signatures: the image (message signature), the provenance (DSSE) and the manifest.
import { bundleToText } from '../../signing/bundle-json.js';
import { signBlob } from '../../signing/message-signature.js';
import { canonicalManifestBytes, type Manifest } from '../../schemas/manifest.js';
import type { ReleaseRequest, StoredBlob } from '../../release/types.js';
import type { ReleaseActivityDeps } from './activity-deps.js';
import { heartbeat } from './heartbeat.js';
import { materialize } from './workspace.js';

export async function signImage(ctx: ReleaseActivityDeps, request: ReleaseRequest): Promise<StoredBlob> {
  const path = await materialize(ctx.store, ctx.workDir, {
    key: request.image.key,
    sha256: request.image.sha256,
    onProgress: (bytes) => heartbeat({ phase: 'fetching image', bytes, total: request.image.size }),
  });
  heartbeat({ phase: 'signing' });
  const bundle = await signBlob({ path }, await ctx.signingMode(request.signing));
  return ctx.store.putBlob(toChunks(bundleToText(bundle)));
}

/** Returns the bundle text; the publish step writes it, so retries reuse these exact bytes. */
export async function signManifest(ctx: ReleaseActivityDeps, manifest: Manifest, mode: 'key' | 'keyless'): Promise<string> {
  const bundle = await signBlob({ bytes: canonicalManifestBytes(manifest) }, await ctx.signingMode(mode));
  return bundleToText(bundle);
}

export async function* toChunks(text: string | Uint8Array): AsyncIterable<Uint8Array> {
  yield typeof text === 'string' ? Buffer.from(text) : text;
}
