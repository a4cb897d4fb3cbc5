// Why a release was refused. Each cause has its own class and code, so the device can report
// a precise failure kind and the CLI can explain exactly what is wrong.
export type ReleaseRejectionCode =
  | 'WRONG_SIGNER'
  | 'TAMPERED_MANIFEST'
  | 'MALFORMED_MANIFEST'
  | 'EXPIRED_MANIFEST'
  | 'VERSION_DOWNGRADE'
  | 'SECURITY_VERSION_DOWNGRADE'
  | 'ARTIFACT_MISMATCH'
  | 'DELTA_BASE_MISMATCH'
  | 'WRONG_HARDWARE';

export class ReleaseRejectedError extends Error {
  constructor(
    readonly code: ReleaseRejectionCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class WrongSignerError extends ReleaseRejectedError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('WRONG_SIGNER', message, options);
  }
}
export class TamperedManifestError extends ReleaseRejectedError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TAMPERED_MANIFEST', message, options);
  }
}
export class MalformedManifestError extends ReleaseRejectedError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MALFORMED_MANIFEST', message, options);
  }
}
export class ExpiredManifestError extends ReleaseRejectedError {
  constructor(message: string) {
    super('EXPIRED_MANIFEST', message);
  }
}
export class VersionDowngradeError extends ReleaseRejectedError {
  constructor(message: string) {
    super('VERSION_DOWNGRADE', message);
  }
}
export class SecurityVersionDowngradeError extends ReleaseRejectedError {
  constructor(message: string) {
    super('SECURITY_VERSION_DOWNGRADE', message);
  }
}
export class ArtifactMismatchError extends ReleaseRejectedError {
  constructor(message: string) {
    super('ARTIFACT_MISMATCH', message);
  }
}
export class DeltaBaseMismatchError extends ReleaseRejectedError {
  constructor(message: string) {
    super('DELTA_BASE_MISMATCH', message);
  }
}
export class WrongHardwareError extends ReleaseRejectedError {
  constructor(message: string) {
    super('WRONG_HARDWARE', message);
  }
}
