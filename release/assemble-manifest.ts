// Builds the manifest document from what the activities produced. Pure, so the workflow can
// call it and tests can check it without a server.
import { MANIFEST_SCHEMA_VERSION, type Manifest } from '../schemas/manifest.js';
import type { ArtifactSet, ReleaseRequest } from './types.js';

export function assembleManifest(request: ReleaseRequest, securityVersion: number, artifacts: ArtifactSet, created: Date): Manifest {
  const expires = new Date(created.getTime() + request.validityDays * 86_400_000);
  const ref = (blob: { key: string; sha256: string }) => ({ location: blob.key, sha256: blob.sha256 });
  return {
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    hardwareId: request.hardwareId,
    version: request.version,
    securityVersion,
    channel: request.channel,
    created: isoSeconds(created),
    expires: isoSeconds(expires),
    image: {
      sha256: request.image.sha256,
      length: request.image.size,
      location: artifacts.compressedImage.key,
      compression: 'gzip',
      compressedSha256: artifacts.compressedImage.sha256,
      compressedLength: artifacts.compressedImage.size,
    },
    imageSignatureBundle: ref(artifacts.imageSignatureBundle),
    deltas: artifacts.deltas.flatMap((d) => (d.kind === 'delta' ? [d.delta] : [])),
    skippedDeltas: artifacts.deltas.flatMap((d) => (d.kind === 'skipped' ? [d.skipped] : [])),
    sbom: ref(artifacts.sbom),
    vex: ref(artifacts.vex),
    openvex: ref(artifacts.openvex),
    provenance: ref(artifacts.provenance),
    // Computed by the inspect activity (hashing has no place in workflow code).
    ...(artifacts.bootMeasurement && { bootMeasurement: artifacts.bootMeasurement }),
  };
}

/** Whole seconds in UTC: one spelling per instant keeps signed bytes reproducible. */
function isoSeconds(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}
