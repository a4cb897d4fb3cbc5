// Errors that carry a machine-readable `code` beside the message, for callers that branch on
// the cause (retry, quarantine, report a failure kind). Each cause still gets its own named
// class, so `instanceof` and the error's name tell the causes apart too.

export interface ErrorCause {
  cause?: unknown;
}

export class CodedError<Code extends string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
    options?: ErrorCause,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

type CodedErrorClass<Code extends string, E extends CodedError<Code>> = new (code: Code, message: string, options?: ErrorCause) => E;

/**
 * A subclass of `Base` that always carries `code`: `class WrongKeyError extends withCode(SignatureVerificationError, 'WRONG_KEY') {}`.
 * The named class that extends it is what callers see (its name, its `instanceof`).
 */
export function withCode<Code extends string, E extends CodedError<Code>>(Base: CodedErrorClass<Code, E>, code: NoInfer<Code>): new (message: string, options?: ErrorCause) => E {
  const Wide = Base as unknown as new (code: Code, message: string, options?: ErrorCause) => CodedError<Code>;
  return class extends Wide {
    constructor(message: string, options?: ErrorCause) {
      super(code, message, options);
    }
  } as unknown as new (message: string, options?: ErrorCause) => E;
}
