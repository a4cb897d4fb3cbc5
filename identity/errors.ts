// Why a certificate or the fleet CA was refused. Callers (the gateway's mTLS check, `ota fleet ca`)
// branch on `code`; each cause has its own class.
import { CodedError, withCode } from '../platform/coded-error.js';

export type IdentityErrorCode =
  | 'MALFORMED_CERTIFICATE'
  | 'UNTRUSTED_ROOT'
  | 'BROKEN_CHAIN'
  | 'NOT_A_CA'
  | 'CERTIFICATE_EXPIRED'
  | 'CERTIFICATE_NOT_YET_VALID'
  | 'WRONG_KEY_PURPOSE'
  | 'BAD_REQUEST'
  | 'CA_EXISTS'
  | 'CA_FOLDER_NOT_PRIVATE'
  | 'CA_MISSING';

export class IdentityError extends CodedError<IdentityErrorCode> {}

/** Not a PEM/DER X.509 certificate we can read. */
export class MalformedCertificateError extends withCode(IdentityError, 'MALFORMED_CERTIFICATE') {}

/** The chain ends in a root other than the pinned fleet root. */
export class UntrustedRootError extends withCode(IdentityError, 'UNTRUSTED_ROOT') {}

/** A certificate's issuer name or signature does not match the next certificate up. */
export class BrokenChainError extends withCode(IdentityError, 'BROKEN_CHAIN') {}

/** A certificate that signs others lacks CA basic constraints or keyCertSign, or a leaf claims to be a CA. */
export class NotACaError extends withCode(IdentityError, 'NOT_A_CA') {}

export class ChainExpiredError extends withCode(IdentityError, 'CERTIFICATE_EXPIRED') {}

export class ChainNotYetValidError extends withCode(IdentityError, 'CERTIFICATE_NOT_YET_VALID') {}

/** The leaf's extended key usage does not allow the use (serverAuth, clientAuth) asked for. */
export class WrongKeyPurposeError extends withCode(IdentityError, 'WRONG_KEY_PURPOSE') {}

/** A CSR, public key, name or address given to the CA is unusable (too large, bad signature, wrong key type). */
export class BadIssueRequestError extends withCode(IdentityError, 'BAD_REQUEST') {}

/** `ota fleet ca init` found a CA already there and was not told --force. */
export class CaExistsError extends withCode(IdentityError, 'CA_EXISTS') {}

/** The CA folder lacks the files needed (intermediate key and certificate, root certificate). */
export class CaMissingError extends withCode(IdentityError, 'CA_MISSING') {}

/** The CA folder exists and group or others may read it. */
export class CaFolderNotPrivateError extends withCode(IdentityError, 'CA_FOLDER_NOT_PRIVATE') {}
