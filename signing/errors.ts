// Typed verification failures. The device and the release pipeline branch on `code`
// (retry, quarantine, alert) so each distinct cause gets its own class.

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

export class SignatureVerificationError extends Error {
  constructor(
    readonly code: SignatureErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The bundle JSON does not parse or is not a v0.3 bundle this platform accepts. */
export class MalformedBundleError extends SignatureVerificationError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MALFORMED_BUNDLE', message, options);
  }
}

/** Key mode: the signing key is not pinned/allowed, or the signature was not made by the pinned key. */
export class WrongKeyError extends SignatureVerificationError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('WRONG_KEY', message, options);
  }
}

/** The artifact's digest differs from the signed digest (or DSSE subject digest). */
export class TamperedArtifactError extends SignatureVerificationError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TAMPERED_ARTIFACT', message, options);
  }
}

/** Keyless: the certificate's identity (SAN) or OIDC issuer is not the expected one. */
export class UnknownSignerIdentityError extends SignatureVerificationError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNKNOWN_SIGNER_IDENTITY', message, options);
  }
}

/** Keyless: the short-lived certificate was not valid at any trusted time. */
export class CertificateExpiredError extends SignatureVerificationError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('EXPIRED_CERTIFICATE', message, options);
  }
}

/** Keyless: not enough trusted timestamps (Rekor integrated time / RFC 3161) to anchor the certificate. */
export class MissingTimestampError extends SignatureVerificationError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MISSING_TIMESTAMP', message, options);
  }
}

/** Keyless: the certificate does not chain to a pinned CA, or its SCT/tlog proof is invalid. */
export class UntrustedCertificateError extends SignatureVerificationError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNTRUSTED_CERTIFICATE', message, options);
  }
}

/** A message-signature bundle can only be checked against the bytes (Node has no pre-hashed ECDSA verify). */
export class ArtifactRequiredError extends SignatureVerificationError {
  constructor(message: string) {
    super('ARTIFACT_REQUIRED', message);
  }
}
