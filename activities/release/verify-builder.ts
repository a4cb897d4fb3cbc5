// Second step: nothing is signed unless an allowed builder built it. Verifies the builder's
// bundle over the image and its signed SLSA provenance against the configured builder policy
// (the crypto and I/O here), then lets the pure judgeBuilderEvidence decide.
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { judgeBuilderEvidence, type BundleFacts } from '../../release/builder-evidence.js';
import type { ReleaseRequest, StoredBlob } from '../../release/types.js';
import { parseBundle } from '../../signing/bundle-json.js';
import { SignatureVerificationError } from '../../signing/errors.js';
import { builderVerifierFromConfig, type BuilderVerifier } from '../../signing/from-config.js';
import { SLSA_PROVENANCE_V1 } from '../../signing/provenance.js';
import { verifyBundle, type ArtifactInput } from '../../signing/verify.js';
import type { ReleaseActivityDeps } from './activity-deps.js';
import { heartbeat } from './heartbeat.js';
import { materialize } from './workspace.js';

export const BUILDER_EVIDENCE_REJECTED = 'BuilderEvidenceRejected';

/** Bundles are a few KiB; anything past this is refused before it is read. */
const MAX_BUNDLE_BYTES = 1024 * 1024;

export interface VerifiedBuilder {
  signer: string;
}

export async function verifyBuilder(ctx: ReleaseActivityDeps, request: ReleaseRequest): Promise<VerifiedBuilder> {
  let verifier: BuilderVerifier;
  try {
    verifier = await builderVerifierFromConfig(ctx.config.builder, ctx.config.trust);
  } catch (err) {
    throw rejected(`the builder policy cannot be loaded: ${(err as Error).message}`);
  }
  const imageSha256 = request.image.sha256;

  let imageSignature: BundleFacts = { status: 'missing' };
  let provenance: BundleFacts = { status: 'missing' };
  if (request.builder?.imageSignature) {
    const path = await materialize(ctx.store, ctx.workDir, {
      key: request.image.key,
      sha256: imageSha256,
      onProgress: (bytes) => heartbeat({ phase: 'fetching image', bytes, total: request.image.size }),
    });
    heartbeat({ phase: 'verifying builder signature' });
    imageSignature = await bundleFacts(ctx, request.builder.imageSignature, verifier, () => ({ path }));
  }
  if (request.builder?.provenance) {
    provenance = await bundleFacts(ctx, request.builder.provenance, verifier, (bundle) => ({ sha256: provenanceDigest(bundle, imageSha256) }), SLSA_PROVENANCE_V1);
  }

  const release = { hardwareId: request.hardwareId, version: request.version, channel: request.channel };
  const decision = judgeBuilderEvidence(verifier.policy, { imageSha256, release, imageSignature, provenance }, verifier.describe);
  if (!decision.ok) throw rejected(decision.reason, decision.failure);
  return { signer: decision.signer };
}

function rejected(reason: string, failure?: string): ApplicationFailure {
  return ApplicationFailure.create({
    message: `builder evidence rejected: ${reason}`,
    type: BUILDER_EVIDENCE_REJECTED,
    nonRetryable: true,
    details: failure ? [{ failure }] : undefined,
  });
}

/** Reads one bundle (size-capped, digest-checked) and verifies it; a verification error becomes a fact, I/O errors retry. */
async function bundleFacts(
  ctx: ReleaseActivityDeps,
  ref: StoredBlob,
  verifier: BuilderVerifier,
  artifact: (bundleText: string) => ArtifactInput,
  predicateType?: string,
): Promise<BundleFacts> {
  const head = await ctx.store.head(ref.key);
  if (!head) return { status: 'invalid', code: 'NOT_IN_STORE', message: `${ref.key} is not in the artifact store ${ctx.store.location}` };
  if (head.size > MAX_BUNDLE_BYTES) return { status: 'invalid', code: 'TOO_LARGE', message: `${ref.key} has ${head.size} bytes, more than ${MAX_BUNDLE_BYTES}` };
  const bytes = await ctx.store.getBytes(ref.key);
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (digest !== ref.sha256.toLowerCase()) return { status: 'invalid', code: 'DIGEST_MISMATCH', message: `${ref.key} has sha256 ${digest}, the request says ${ref.sha256}` };
  const text = bytes.toString('utf8');
  try {
    const verified = await verifyBundle({ bundle: text, artifact: artifact(text), trustRoot: verifier.trustRoot, policy: verifier.policy, predicateType });
    return {
      status: 'verified',
      artifactSha256: verified.artifactSha256,
      signer: verified.signer,
      predicateType: verified.statement?.predicateType,
      subjectSha256s: verified.statement?.subject.flatMap((s) => (s.digest.sha256 ? [s.digest.sha256.toLowerCase()] : [])),
      externalParameters: externalParametersOf(verified.statement?.predicate),
    };
  } catch (err) {
    if (err instanceof SignatureVerificationError) return { status: 'invalid', code: err.code, message: err.message };
    throw err;
  }
}

function externalParametersOf(predicate: unknown): Record<string, unknown> | undefined {
  const params = (predicate as { buildDefinition?: { externalParameters?: unknown } } | undefined)?.buildDefinition?.externalParameters;
  return typeof params === 'object' && params !== null && !Array.isArray(params) ? (params as Record<string, unknown>) : undefined;
}

/**
 * The digest to check the DSSE provenance against: the image's when a subject names it, else the
 * first subject's, so the signature is verified either way and judgeBuilderEvidence reports a
 * subject that is not the image by name (rather than as a failed signature).
 */
function provenanceDigest(bundleText: string, imageSha256: string): string {
  try {
    const bundle = parseBundle(bundleText);
    if (bundle.content.$case !== 'dsseEnvelope') return imageSha256;
    const statement = JSON.parse(Buffer.from(bundle.content.dsseEnvelope.payload).toString('utf8')) as { subject?: Array<{ digest?: { sha256?: string } }> };
    const digests = (statement.subject ?? []).map((s) => s.digest?.sha256?.toLowerCase()).filter((d): d is string => !!d);
    return digests.includes(imageSha256.toLowerCase()) ? imageSha256 : (digests[0] ?? imageSha256);
  } catch {
    // verifyBundle reports the malformed bundle with its own code.
    return imageSha256;
  }
}
