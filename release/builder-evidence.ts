// Is this builder evidence acceptable under this policy? A pure decision over facts the
// verify-builder activity has already established (signatures checked, statements parsed);
// the activity does the crypto and the I/O, this decides and names what failed.
import { SLSA_PROVENANCE_V1 } from '../signing/provenance.js';
import type { SignerPolicy, VerifiedBundle } from '../signing/verify.js';

/** What verifying one builder bundle found. */
export type BundleFacts =
  | { status: 'missing' }
  /** The bundle did not verify: the verifier's error code and message. */
  | { status: 'invalid'; code: string; message: string }
  | {
      status: 'verified';
      /** The digest the verified signature covers (message signature) or was checked against (DSSE). */
      artifactSha256: string;
      signer: VerifiedBundle['signer'];
      /** DSSE only: the statement's predicate type and subject digests (sha256, lower-case hex). */
      predicateType?: string;
      subjectSha256s?: string[];
      /** DSSE SLSA provenance only: predicate.buildDefinition.externalParameters. */
      externalParameters?: Record<string, unknown>;
    };

/** What the request releases the image as; the builder's provenance must say the same. */
export interface ReleaseBinding {
  hardwareId: string;
  version: string;
  channel: string;
}

export interface BuilderEvidenceFacts {
  imageSha256: string;
  release: ReleaseBinding;
  imageSignature: BundleFacts;
  provenance: BundleFacts;
}

/** Which part of the evidence failed, for tests and for the operator. */
export type BuilderEvidenceFailure =
  | 'missing-image-signature'
  | 'invalid-image-signature'
  | 'image-digest-mismatch'
  | 'image-signer-not-allowed'
  | 'missing-provenance'
  | 'invalid-provenance'
  | 'provenance-not-slsa'
  | 'provenance-subject-mismatch'
  | 'provenance-release-mismatch'
  | 'provenance-signer-not-allowed';

export type BuilderEvidenceDecision = { ok: true; signer: string } | { ok: false; failure: BuilderEvidenceFailure; reason: string };

/** The signer in words: `key <hint>` or `<identity> (issuer <issuer>)`. */
export function describeSigner(signer: VerifiedBundle['signer']): string {
  return signer.mode === 'key' ? `key ${signer.hint}` : `${signer.identity} (issuer ${signer.issuer})`;
}

/** Does the policy list this signer? Checked here again, not only trusted from the verifier. */
export function signerAllowed(policy: SignerPolicy, signer: VerifiedBundle['signer']): boolean {
  if (policy.mode === 'key') return signer.mode === 'key' && policy.allowedKeyHints.includes(signer.hint);
  if (signer.mode !== 'keyless' || signer.issuer !== policy.certificateIssuer) return false;
  if (policy.certificateIdentityPattern !== undefined) {
    try {
      return new RegExp(`^(?:${policy.certificateIdentityPattern})$`).test(signer.identity);
    } catch {
      return false;
    }
  }
  return signer.identity === policy.certificateIdentity;
}

const normalize = (hex: string) => hex.replace(/^sha256:/, '').toLowerCase();

export function judgeBuilderEvidence(policy: SignerPolicy, facts: BuilderEvidenceFacts, policyName = 'the builder policy'): BuilderEvidenceDecision {
  const image = normalize(facts.imageSha256);
  const sig = facts.imageSignature;
  if (sig.status === 'missing') {
    return reject('missing-image-signature', `the request carries no builder signature over image sha256:${image}; only images signed by ${policyName} are released`);
  }
  if (sig.status === 'invalid') {
    return reject('invalid-image-signature', `the builder signature over image sha256:${image} does not verify under ${policyName}: ${sig.code}: ${sig.message}`);
  }
  if (normalize(sig.artifactSha256) !== image) {
    return reject('image-digest-mismatch', `the builder signature covers sha256:${normalize(sig.artifactSha256)}, not image sha256:${image}`);
  }
  if (!signerAllowed(policy, sig.signer)) {
    return reject('image-signer-not-allowed', `the image is signed by ${describeSigner(sig.signer)}, which ${policyName} does not allow`);
  }

  const prov = facts.provenance;
  if (prov.status === 'missing') return reject('missing-provenance', `the request carries no builder provenance for image sha256:${image}`);
  if (prov.status === 'invalid') return reject('invalid-provenance', `the builder provenance does not verify under ${policyName}: ${prov.code}: ${prov.message}`);
  if (prov.predicateType !== SLSA_PROVENANCE_V1) {
    return reject('provenance-not-slsa', `the builder provenance has predicate type ${prov.predicateType ?? '(none)'}, expected ${SLSA_PROVENANCE_V1}`);
  }
  const subjects = (prov.subjectSha256s ?? []).map(normalize);
  if (!subjects.includes(image)) {
    return reject(
      'provenance-subject-mismatch',
      `the builder provenance's subject digest (${subjects.map((s) => `sha256:${s}`).join(', ') || 'none'}) is not the image's sha256:${image}`,
    );
  }
  // The image alone is not the release: a builder-signed 1.0.0 image must not come back as 9.0.0.
  const params = prov.externalParameters ?? {};
  const differing = (['hardwareId', 'version', 'channel'] as const).filter((field) => params[field] !== facts.release[field]);
  if (differing.length > 0) {
    const said = differing.map((f) => `${f} ${params[f] === undefined ? '(none)' : JSON.stringify(params[f])}`).join(', ');
    const asked = differing.map((f) => `${f} ${JSON.stringify(facts.release[f])}`).join(', ');
    return reject('provenance-release-mismatch', `the builder provenance was made for ${said}, but the request releases the image as ${asked}`);
  }
  if (!signerAllowed(policy, prov.signer)) {
    return reject('provenance-signer-not-allowed', `the builder provenance is signed by ${describeSigner(prov.signer)}, which ${policyName} does not allow`);
  }
  return { ok: true, signer: describeSigner(sig.signer) };
}

function reject(failure: BuilderEvidenceFailure, reason: string): BuilderEvidenceDecision {
  return { ok: false, failure, reason };
}
