// Why a release was refused. Each cause has its own class and code, so the device can report
// a precise failure kind and the CLI can explain exactly what is wrong.
import { CodedError, withCode } from '../platform/coded-error.js';

export type ReleaseRejectionCode =
  | 'WRONG_SIGNER'
  | 'TAMPERED_MANIFEST'
  | 'MALFORMED_MANIFEST'
  | 'EXPIRED_MANIFEST'
  | 'VERSION_DOWNGRADE'
  | 'SECURITY_VERSION_DOWNGRADE'
  | 'ARTIFACT_MISMATCH'
  | 'DELTA_BASE_MISMATCH'
  | 'WRONG_HARDWARE'
  | 'WRONG_CHANNEL'
  | 'OVERSIZED_INPUT';

export class ReleaseRejectedError extends CodedError<ReleaseRejectionCode> {}

export class WrongSignerError extends withCode(ReleaseRejectedError, 'WRONG_SIGNER') {}
export class TamperedManifestError extends withCode(ReleaseRejectedError, 'TAMPERED_MANIFEST') {}
export class MalformedManifestError extends withCode(ReleaseRejectedError, 'MALFORMED_MANIFEST') {}
export class ExpiredManifestError extends withCode(ReleaseRejectedError, 'EXPIRED_MANIFEST') {}
export class VersionDowngradeError extends withCode(ReleaseRejectedError, 'VERSION_DOWNGRADE') {}
export class SecurityVersionDowngradeError extends withCode(ReleaseRejectedError, 'SECURITY_VERSION_DOWNGRADE') {}
export class ArtifactMismatchError extends withCode(ReleaseRejectedError, 'ARTIFACT_MISMATCH') {}
export class DeltaBaseMismatchError extends withCode(ReleaseRejectedError, 'DELTA_BASE_MISMATCH') {}
export class WrongHardwareError extends withCode(ReleaseRejectedError, 'WRONG_HARDWARE') {}
export class WrongChannelError extends withCode(ReleaseRejectedError, 'WRONG_CHANNEL') {}
/** A manifest, signature bundle or evidence file over the size limit docs/device-agent.md states: refused before it is parsed. */
export class OversizedInputError extends withCode(ReleaseRejectedError, 'OVERSIZED_INPUT') {}
