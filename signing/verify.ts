// Offline verification shared by the device and the release pipeline. Uses @sigstore/verify
// directly against a pinned trust root (never sigstore.verify(), which fetches via TUF), then
// applies the checks the library leaves to the caller: the artifact binding for DSSE (in-toto
// subject digest), an anchored identity match, and key-hint allow-listing.
import { createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { BundleLatest } from '@sigstore/bundle';
import {
  PolicyError,
  toSignedEntity,
  VerificationError,
  Verifier,
  type SignedEntity,
  type VerificationPolicy as SigstorePolicy,
  type VerifierOptions,
} from '@sigstore/verify';
import { digestAndVerify, sha256Of, type BlobSource } from './blob-source.js';
import { parseBundle } from './bundle-json.js';
import {
  ArtifactRequiredError,
  CertificateExpiredError,
  MalformedBundleError,
  MissingTimestampError,
  SignatureVerificationError,
  TamperedArtifactError,
  UnknownSignerIdentityError,
  UntrustedCertificateError,
  WrongKeyError,
} from './errors.js';
import { IN_TOTO_PAYLOAD_TYPE, inTotoStatementSchema, subjectMatchesDigest, type InTotoStatement } from './in-toto.js';
import { trustMaterialFrom, type LocalTrustRootJSON } from './trust-root.js';

/** The artifact: streamed from a file, bytes in memory, or (DSSE only) a sha256 computed while downloading. */
export type ArtifactInput = BlobSource | { sha256: string };

export type SignerPolicy =
  | {
      mode: 'key';
      /** Hints of the pinned keys allowed to sign (a subset of the trust root's pinnedKeys). */
      allowedKeyHints: string[];
    }
  | {
      mode: 'keyless';
      /** Exact certificate SAN (e.g. https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main). */
      certificateIdentity: string;
      /**
       * Instead of the exact SAN: a regular expression the whole SAN must match (anchored here),
       * e.g. a CI workflow identity on any release tag. certificateIdentity is then ignored.
       */
      certificateIdentityPattern?: string;
      /** Exact OIDC issuer (e.g. https://token.actions.githubusercontent.com). */
      certificateIssuer: string;
      /** Minimum Rekor entries (default 1; 0 for TSA-only deployments). */
      tlogThreshold?: number;
      /** Minimum SCTs in the certificate (default 1). */
      ctlogThreshold?: number;
      /** Minimum trusted timestamps (default and minimum 1: the certificate lives minutes). */
      timestampThreshold?: number;
    };

export interface VerifyBundleRequest {
  /** Bundle JSON, as text or parsed object. */
  bundle: string | unknown;
  artifact: ArtifactInput;
  trustRoot: LocalTrustRootJSON;
  policy: SignerPolicy;
  /** DSSE only: the predicateType the statement must carry. */
  predicateType?: string;
}

export interface VerifiedBundle {
  kind: 'messageSignature' | 'dsseEnvelope';
  artifactSha256: string;
  signer: { mode: 'key'; hint: string } | { mode: 'keyless'; identity: string; issuer: string };
  /** The verified in-toto statement, for DSSE bundles. */
  statement?: InTotoStatement;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export async function verifyBundle(request: VerifyBundleRequest): Promise<VerifiedBundle> {
  const bundle = parseBundle(request.bundle);
  const { policy, trustRoot } = request;
  const material = bundle.verificationMaterial.content;

  let candidateKey: KeyObject;
  let hint = '';
  if (policy.mode === 'key') {
    if (material.$case !== 'publicKey') throw new WrongKeyError('bundle is signed with a certificate, but the policy expects a pinned key');
    hint = material.publicKey.hint;
    const pinned = trustRoot.pinnedKeys?.[hint];
    if (!policy.allowedKeyHints.includes(hint) || !pinned) throw new WrongKeyError(`signing key ${hint || '(no hint)'} is not pinned and allowed`);
    // Key-mode bundles carry no timestamp, so a retired key (validFor.end) is judged against now.
    const now = Date.now();
    if ((pinned.validFor?.start && Date.parse(pinned.validFor.start) > now) || (pinned.validFor?.end && Date.parse(pinned.validFor.end) < now)) {
      throw new WrongKeyError(`pinned key ${hint} is not valid now (validFor ${pinned.validFor?.start ?? '-'} .. ${pinned.validFor?.end ?? '-'})`);
    }
    candidateKey = createPublicKey({ key: Buffer.from(pinned.rawBytes, 'base64'), format: 'der', type: 'spki' });
  } else {
    if (material.$case !== 'certificate') throw new UnknownSignerIdentityError('bundle is signed with a bare key, but the policy expects a keyless certificate identity');
    candidateKey = new X509Certificate(material.certificate.rawBytes).publicKey;
  }

  const { entity, artifactSha256 } = await signedEntityFor(bundle, request.artifact, candidateKey);
  if (policy.mode === 'keyless') assertHasTimestamp(entity, bundle);

  const signer = runVerifier(entity, request);

  let statement: InTotoStatement | undefined;
  if (bundle.content.$case === 'dsseEnvelope') {
    statement = verifiedStatement(bundle, artifactSha256, request.predicateType);
  }
  return {
    kind: bundle.content.$case,
    artifactSha256,
    signer:
      policy.mode === 'key'
        ? { mode: 'key', hint }
        : { mode: 'keyless', identity: signer.identity?.subjectAlternativeName ?? '', issuer: signer.identity?.extensions?.issuer ?? '' },
    statement,
  };
}

/** Builds the SignedEntity, binding message signatures to the artifact bytes (streamed when from a file). */
async function signedEntityFor(
  bundle: BundleLatest,
  artifact: ArtifactInput,
  candidateKey: KeyObject,
): Promise<{ entity: SignedEntity; artifactSha256: string }> {
  if (bundle.content.$case === 'dsseEnvelope') {
    // The DSSE signature covers the statement; the artifact is bound by the subject digest (checked later).
    const digest = 'sha256' in artifact ? normalizeHex(artifact.sha256) : (await sha256Of(artifact)).toString('hex');
    return { entity: toSignedEntity(bundle), artifactSha256: digest };
  }
  const signed = bundle.content.messageSignature;
  const signedDigest = Buffer.from(signed.messageDigest.digest).toString('hex');
  if ('sha256' in artifact) {
    if (normalizeHex(artifact.sha256) !== signedDigest) throw tampered(signedDigest, artifact.sha256);
    // Node cannot verify ECDSA over a pre-computed digest, so a digest alone proves nothing here.
    throw new ArtifactRequiredError('message-signature bundles need the artifact bytes or file (use a DSSE attestation for digest-only checks)');
  }
  if ('bytes' in artifact) {
    const digest = (await sha256Of(artifact)).toString('hex');
    if (digest !== signedDigest) throw tampered(signedDigest, digest);
    return { entity: toSignedEntity(bundle, Buffer.from(artifact.bytes)), artifactSha256: digest };
  }
  // File: verify the signature in the same streamed pass as the digest, against the key the
  // bundle names. The Verifier still resolves and checks that key (pinned / chained to the CA);
  // our content only reports success if the Verifier's key is the one we streamed against.
  const { digest, signatureValid } = await digestAndVerify(artifact, candidateKey, signed.signature);
  const hex = digest.toString('hex');
  if (hex !== signedDigest) throw tampered(signedDigest, hex);
  const entity = toSignedEntity(bundle);
  const library = entity.signature;
  entity.signature = {
    signature: library.signature,
    compareSignature: (sig) => library.compareSignature(sig),
    compareDigest: (d) => library.compareDigest(d),
    verifySignature: (key) => signatureValid && key.equals(candidateKey),
  };
  return { entity, artifactSha256: hex };
}

function normalizeHex(hex: string): string {
  return hex.replace(/^sha256:/, '').toLowerCase();
}

function tampered(expected: string, actual: string): TamperedArtifactError {
  return new TamperedArtifactError(`artifact sha256 ${normalizeHex(actual)} does not match the signed digest ${expected}`);
}

/**
 * A Fulcio certificate is valid for minutes; only a trusted timestamp (Rekor integrated time or
 * RFC 3161) shows it signed while valid. @sigstore/verify skips the chain check entirely when there
 * are no timestamps, so refuse that case here with the precise reason.
 */
function assertHasTimestamp(entity: SignedEntity, bundle: BundleLatest): void {
  if (entity.timestamps.length > 0) return;
  const material = bundle.verificationMaterial.content;
  if (material.$case === 'certificate') {
    const notAfter = new Date(new X509Certificate(material.certificate.rawBytes).validTo);
    if (notAfter.getTime() < Date.now()) {
      throw new CertificateExpiredError(`signing certificate expired at ${notAfter.toISOString()} and the bundle has no trusted timestamp`);
    }
  }
  throw new MissingTimestampError('bundle has no trusted timestamp (Rekor entry or RFC 3161) to anchor the short-lived certificate');
}

function runVerifier(entity: SignedEntity, request: VerifyBundleRequest) {
  const { policy } = request;
  let options: VerifierOptions;
  let identityPolicy: SigstorePolicy | undefined;
  if (policy.mode === 'key') {
    options = { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 };
  } else {
    options = {
      tlogThreshold: policy.tlogThreshold ?? 1,
      ctlogThreshold: policy.ctlogThreshold ?? 1,
      timestampThreshold: Math.max(1, policy.timestampThreshold ?? 1),
    };
    // The library treats the SAN as an unanchored RegExp: escape and anchor for an exact match.
    identityPolicy = {
      subjectAlternativeName:
        policy.certificateIdentityPattern !== undefined ? `^(?:${policy.certificateIdentityPattern})$` : `^${escapeRegExp(policy.certificateIdentity)}$`,
      extensions: { issuer: policy.certificateIssuer },
    };
  }
  try {
    return new Verifier(trustMaterialFrom(request.trustRoot), options).verify(entity, identityPolicy);
  } catch (err) {
    throw classify(err, policy.mode);
  }
}

/** Maps @sigstore/verify's error codes onto the platform's typed errors. */
function classify(err: unknown, mode: SignerPolicy['mode']): Error {
  if (err instanceof PolicyError) return new UnknownSignerIdentityError(err.message, { cause: err });
  if (!(err instanceof VerificationError)) return err instanceof Error ? err : new Error(String(err));
  switch (err.code) {
    case 'SIGNATURE_ERROR':
      return mode === 'key'
        ? new WrongKeyError('signature does not verify under the pinned key (signed by another key, or the bundle was altered)', { cause: err })
        : new TamperedArtifactError('signature does not verify under the certificate key (the signed content was altered)', { cause: err });
    case 'PUBLIC_KEY_ERROR':
      return new WrongKeyError(err.message, { cause: err });
    case 'TIMESTAMP_ERROR':
      return new MissingTimestampError(err.message, { cause: err });
    case 'CERTIFICATE_ERROR': {
      // The chain error wraps the per-CA reason in `cause`.
      const reason = err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message;
      return /expired/.test(reason) ? new CertificateExpiredError(reason, { cause: err }) : new UntrustedCertificateError(reason, { cause: err });
    }
    default:
      return new SignatureVerificationError('VERIFICATION_FAILED', `${err.code}: ${err.message}`, { cause: err });
  }
}

function verifiedStatement(bundle: BundleLatest, artifactSha256: string, predicateType: string | undefined): InTotoStatement {
  if (bundle.content.$case !== 'dsseEnvelope') throw new Error('not a DSSE bundle');
  const envelope = bundle.content.dsseEnvelope;
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    throw new TamperedArtifactError(`DSSE payloadType is ${envelope.payloadType}, expected ${IN_TOTO_PAYLOAD_TYPE}`);
  }
  let statement: InTotoStatement;
  try {
    statement = inTotoStatementSchema.parse(JSON.parse(Buffer.from(envelope.payload).toString('utf8')));
  } catch (err) {
    throw new MalformedBundleError(`DSSE payload is not an in-toto Statement v1: ${(err as Error).message}`, { cause: err });
  }
  if (predicateType && statement.predicateType !== predicateType) {
    throw new SignatureVerificationError('VERIFICATION_FAILED', `attestation predicateType is ${statement.predicateType}, expected ${predicateType}`);
  }
  if (!subjectMatchesDigest(statement, artifactSha256)) {
    throw new TamperedArtifactError(`no attestation subject has sha256 ${artifactSha256}`);
  }
  return statement;
}

/**
 * A keyless message signature over bytes in memory, verified synchronously with the same checks as
 * verifyBundle (certificate chain to a pinned Fulcio CA, a trusted timestamp inside its validity, the
 * signature over exactly these bytes), so pure code (TUF release approvals) can judge it. Without
 * `identity` any identity passes and the caller matches the returned one itself.
 */
export function verifyKeylessBytes(request: {
  bundle: string | unknown;
  bytes: Uint8Array;
  trustRoot: LocalTrustRootJSON;
  identity?: { pattern: string; issuer: string };
}): { identity: string; issuer: string } {
  const bundle = parseBundle(request.bundle);
  if (bundle.content.$case !== 'messageSignature') throw new MalformedBundleError('expected a message-signature bundle over the bytes');
  if (bundle.verificationMaterial.content.$case !== 'certificate') throw new UnknownSignerIdentityError('bundle is signed with a bare key, not a keyless certificate');
  const digest = createHash('sha256').update(request.bytes).digest('hex');
  const signedDigest = Buffer.from(bundle.content.messageSignature.messageDigest.digest).toString('hex');
  if (digest !== signedDigest) throw tampered(signedDigest, digest);
  const entity = toSignedEntity(bundle, Buffer.from(request.bytes));
  assertHasTimestamp(entity, bundle);
  const options: VerifierOptions = { tlogThreshold: 1, ctlogThreshold: 1, timestampThreshold: 1 };
  const identityPolicy: SigstorePolicy | undefined = request.identity && {
    subjectAlternativeName: `^(?:${request.identity.pattern})$`,
    extensions: { issuer: request.identity.issuer },
  };
  let signer;
  try {
    signer = new Verifier(trustMaterialFrom(request.trustRoot), options).verify(entity, identityPolicy);
  } catch (err) {
    throw classify(err, 'keyless');
  }
  return { identity: signer.identity?.subjectAlternativeName ?? '', issuer: signer.identity?.extensions?.issuer ?? '' };
}
