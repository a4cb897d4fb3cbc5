// Typed verification failures. The device and the release pipeline branch on `code`
// (retry, quarantine, alert) so each distinct cause gets its own class.
import { CodedError, withCode } from '../platform/coded-error.js';

export type SignatureErrorCode =
  | 'MALFORMED_BUNDLE'
  | 'WRONG_KEY'
  | 'TAMPERED_ARTIFACT'
  | 'UNKNOWN_SIGNER_IDENTITY'
  | 'EXPIRED_CERTIFICATE'
  | 'MISSING_TIMESTAMP'
  | 'UNTRUSTED_CERTIFICATE'
  | 'ARTIFACT_REQUIRED'
  | 'VERIFICATION_FAILED';

export class SignatureVerificationError extends CodedError<SignatureErrorCode> {}

/** The bundle JSON does not parse or is not a v0.3 bundle this platform accepts. */
export class MalformedBundleError extends withCode(SignatureVerificationError, 'MALFORMED_BUNDLE') {}

/** Key mode: the signing key is not pinned/allowed, or the signature was not made by the pinned key. */
export class WrongKeyError extends withCode(SignatureVerificationError, 'WRONG_KEY') {}

/** The artifact's digest differs from the signed digest (or DSSE subject digest). */
export class TamperedArtifactError extends withCode(SignatureVerificationError, 'TAMPERED_ARTIFACT') {}

/** Keyless: the certificate's identity (SAN) or OIDC issuer is not the expected one. */
export class UnknownSignerIdentityError extends withCode(SignatureVerificationError, 'UNKNOWN_SIGNER_IDENTITY') {}

/** Keyless: the short-lived certificate was not valid at any trusted time. */
export class CertificateExpiredError extends withCode(SignatureVerificationError, 'EXPIRED_CERTIFICATE') {}

/** Keyless: not enough trusted timestamps (Rekor integrated time / RFC 3161) to anchor the certificate. */
export class MissingTimestampError extends withCode(SignatureVerificationError, 'MISSING_TIMESTAMP') {}

/** Keyless: the certificate does not chain to a pinned CA, or its SCT/tlog proof is invalid. */
export class UntrustedCertificateError extends withCode(SignatureVerificationError, 'UNTRUSTED_CERTIFICATE') {}

/** A message-signature bundle can only be checked against the bytes (Node has no pre-hashed ECDSA verify). */
export class ArtifactRequiredError extends withCode(SignatureVerificationError, 'ARTIFACT_REQUIRED') {}
