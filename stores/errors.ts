// Typed failures of an artifact store, so callers can branch on the kind (retry later,
// report a conflict, answer 404) instead of parsing backend messages.

export class StoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
  }
}

export class NotFoundError extends StoreError {
  constructor(readonly key: string) {
    super(`object not found: ${key}`);
    this.name = 'NotFoundError';
  }
}

/** A different object already holds the key, or a compare-and-swap saw another version. */
export class ConflictError extends StoreError {
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(`conflict on ${key}: ${reason}`);
    this.name = 'ConflictError';
  }
}

/** The content did not hash to the sha256 the caller promised; nothing was stored. */
export class DigestMismatchError extends StoreError {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`sha256 mismatch: expected ${expected}, content hashes to ${actual}; nothing was stored`);
    this.name = 'DigestMismatchError';
  }
}

/** The backend could not be reached or kept failing after the configured attempts. */
export class StoreUnavailableError extends StoreError {
  constructor(
    readonly endpoint: string,
    readonly attempts: number,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`artifact store at ${endpoint} unavailable after ${attempts} attempt(s): ${detail}`, options);
    this.name = 'StoreUnavailableError';
  }
}

export class InvalidKeyError extends StoreError {
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(`invalid object key ${JSON.stringify(key)}: ${reason}`);
    this.name = 'InvalidKeyError';
  }
}

export class InvalidRangeError extends StoreError {
  constructor(
    readonly key: string,
    detail: string,
  ) {
    super(`range not satisfiable for ${key}: ${detail}`);
    this.name = 'InvalidRangeError';
  }
}
