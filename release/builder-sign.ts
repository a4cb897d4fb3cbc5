// The build job's side of the builder policy: sign the image and an SLSA provenance statement
// whose subject is the image, in the job's own process (its key or its OIDC token), and put both
// bundles into the artifact store beside the image. The worker verifies them (verify-builder).
import { signStatement } from '../signing/attest.js';
import { bundleToText } from '../signing/bundle-json.js';
import { signBlob } from '../signing/message-signature.js';
import { buildProvenanceStatement } from '../signing/provenance.js';
import type { SigningMode } from '../signing/signing-mode.js';
import type { ArtifactStore } from '../stores/index.js';
import type { ReleaseBinding } from './builder-evidence.js';
import type { BuilderEvidence, ProvenanceInputsJson } from './types.js';

export async function produceBuilderEvidence(
  store: ArtifactStore,
  image: { path: string; sha256: string; name: string },
  /** What the image is released as: recorded in the provenance's externalParameters, which the worker compares with the request. */
  release: ReleaseBinding,
  provenance: ProvenanceInputsJson,
  signing: SigningMode,
): Promise<BuilderEvidence> {
  const imageBundle = await signBlob({ path: image.path }, signing);
  const statement = buildProvenanceStatement([{ name: image.name, digest: { sha256: image.sha256 } }], {
    ...provenance,
    externalParameters: { ...provenance.externalParameters, hardwareId: release.hardwareId, version: release.version, channel: release.channel },
    startedOn: provenance.startedOn ? new Date(provenance.startedOn) : undefined,
    finishedOn: provenance.finishedOn ? new Date(provenance.finishedOn) : undefined,
  });
  const provenanceBundle = await signStatement(statement, signing);
  const put = async (text: string) => store.putBlob((async function* () { yield Buffer.from(text); })());
  return { imageSignature: await put(bundleToText(imageBundle)), provenance: await put(bundleToText(provenanceBundle)) };
}
