// Why TUF metadata (or a publish against it) was refused. Each cause has its own class and code so
// `ota verify`, the publish step and (next) the device can name the cause exactly (docs/trust.md).
import { CodedError, withCode, type ErrorCause } from '../platform/coded-error.js';

export type TrustErrorCode =
  | 'TUF_OVERSIZED'
  | 'TUF_MALFORMED_METADATA'
  | 'TUF_THRESHOLD_NOT_MET'
  | 'TUF_ROOT_CHAIN_BROKEN'
  | 'TUF_METADATA_EXPIRED'
  | 'TUF_ROLLBACK'
  | 'TUF_META_MISMATCH'
  | 'TUF_SIGNER_REVOKED'
  | 'TUF_UNKNOWN_SIGNER'
  | 'TUF_SIGNER_OUT_OF_SCOPE'
  | 'TUF_TARGET_MISMATCH'
  | 'TUF_NOT_INITIALIZED'
  | 'TUF_ALREADY_INITIALIZED'
  | 'TUF_INVALID_CHANGE'
  | 'TUF_SIGNER_BUNDLE_INVALID'
  | 'TUF_PUBLISH_KEY_REPLACED'
  | 'TUF_PUBLISHING_REVOKED';

/** The message starts with the code, so the one line the CLI prints names the cause. */
export class TrustError extends CodedError<TrustErrorCode> {
  constructor(code: TrustErrorCode, message: string, options?: ErrorCause) {
    super(code, `${code}: ${message}`, options);
  }
}

/** Metadata over its size limit: refused before it is parsed. */
export class TufOversizedError extends withCode(TrustError, 'TUF_OVERSIZED') {}
/** Not JSON, or not TUF metadata of the expected role. */
export class TufMalformedMetadataError extends withCode(TrustError, 'TUF_MALFORMED_METADATA') {}
/** Fewer valid signatures from the role's keys than its threshold. */
export class TufThresholdNotMetError extends withCode(TrustError, 'TUF_THRESHOLD_NOT_MET') {}
/** Root N+1 is not version N+1, or is not signed by the threshold of root N and of itself. */
export class TufRootChainBrokenError extends withCode(TrustError, 'TUF_ROOT_CHAIN_BROKEN') {}
/** Metadata expired, judged by the later of the clock and the newest signed time already seen. */
export class TufMetadataExpiredError extends withCode(TrustError, 'TUF_METADATA_EXPIRED') {}
/** A metadata version lower than one already trusted. */
export class TufRollbackError extends withCode(TrustError, 'TUF_ROLLBACK') {}
/** Snapshot or targets bytes differ from the version, length or hash the role above pins. */
export class TufMetaMismatchError extends withCode(TrustError, 'TUF_META_MISMATCH') {}
/** The release signer was listed and has been revoked. */
export class TufSignerRevokedError extends withCode(TrustError, 'TUF_SIGNER_REVOKED') {}
/** The release signer is not one the targets role lists. */
export class TufUnknownSignerError extends withCode(TrustError, 'TUF_UNKNOWN_SIGNER') {}
/** A release signer limited to some hardware ids signed (or approved) a release for another one. */
export class TufSignerOutOfScopeError extends withCode(TrustError, 'TUF_SIGNER_OUT_OF_SCOPE') {}
/** The manifest is not a target, or its length or sha256 differs from the target's. */
export class TufTargetMismatchError extends withCode(TrustError, 'TUF_TARGET_MISMATCH') {}
/** No TUF repository where one is needed. */
export class TufNotInitializedError extends withCode(TrustError, 'TUF_NOT_INITIALIZED') {}
/** `ota trust init` over an existing repository. */
export class TufAlreadyInitializedError extends withCode(TrustError, 'TUF_ALREADY_INITIALIZED') {}
/** A change the roles do not allow (threshold above the key count, revoking the last signer, ...). */
export class TufInvalidChangeError extends withCode(TrustError, 'TUF_INVALID_CHANGE') {}
/** A keyless release signature (or approval) whose Sigstore bundle does not verify: chain, timestamp or bytes. */
export class TufSignerBundleInvalidError extends withCode(TrustError, 'TUF_SIGNER_BUNDLE_INVALID') {}
/** The publish role signed by a release-publish key that targets has since replaced (`ota trust rotate-publish-key`). */
export class TufPublishKeyReplacedError extends withCode(TrustError, 'TUF_PUBLISH_KEY_REPLACED') {}
/** A publish through the worker after targets stopped delegating release manifests (`ota trust revoke-publish`). */
export class TufPublishingRevokedError extends withCode(TrustError, 'TUF_PUBLISHING_REVOKED') {}
