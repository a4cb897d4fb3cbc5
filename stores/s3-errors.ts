// Classifies AWS SDK failures into the store's typed errors. Network-level failures and 5xx
// answers (after the SDK's own retries) become StoreUnavailableError naming the endpoint and
// the attempts made, so an operator sees "cannot reach X" rather than a stack of SDK internals.
import { InvalidRangeError, NotFoundError, StoreError, StoreUnavailableError } from './errors.js';

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
]);

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
  errors?: unknown[];
}

function shape(error: unknown): SdkErrorShape {
  return typeof error === 'object' && error !== null ? (error as SdkErrorShape) : {};
}

export function httpStatusOf(error: unknown): number | undefined {
  return shape(error).$metadata?.httpStatusCode;
}

export function isPreconditionFailed(error: unknown): boolean {
  return httpStatusOf(error) === 412 || shape(error).name === 'PreconditionFailed';
}

/** AWS answers 409 when another conditional write to the same key is in flight. */
export function isConditionalRequestConflict(error: unknown): boolean {
  return shape(error).name === 'ConditionalRequestConflict' || httpStatusOf(error) === 409;
}

export function isNotFound(error: unknown): boolean {
  const { name } = shape(error);
  return httpStatusOf(error) === 404 || name === 'NoSuchKey' || name === 'NotFound';
}

function networkCode(error: unknown): string | undefined {
  const s = shape(error);
  if (s.code && NETWORK_CODES.has(s.code)) return s.code;
  if (s.name === 'TimeoutError') return 'timeout';
  // Happy-eyeballs connects report an AggregateError holding the per-address failures.
  for (const inner of s.errors ?? []) {
    const code = networkCode(inner);
    if (code) return code;
  }
  return undefined;
}

export interface S3ErrorContext {
  endpoint: string;
  maxAttempts: number;
}

/** Maps an error from an S3 call about key; errors that are already typed pass through. */
export function translateS3Error(error: unknown, context: S3ErrorContext, operation: string, key: string): Error {
  if (error instanceof StoreError) return error;
  const s = shape(error);
  const attempts = s.$metadata?.attempts ?? context.maxAttempts;
  const network = networkCode(error);
  if (network) {
    return new StoreUnavailableError(context.endpoint, attempts, `${operation} ${key}: ${network} (${s.message ?? 'no detail'})`, { cause: error });
  }
  const status = httpStatusOf(error);
  if (status !== undefined && status >= 500) {
    return new StoreUnavailableError(context.endpoint, attempts, `${operation} ${key}: HTTP ${status} ${s.name ?? ''}`.trim(), { cause: error });
  }
  if (isNotFound(error)) return new NotFoundError(key);
  if (status === 416 || s.name === 'InvalidRange') return new InvalidRangeError(key, s.message ?? 'rejected by the server');
  if (status === undefined && !s.$metadata) return error instanceof Error ? error : new Error(String(error)); // not from S3 (e.g. the source stream failed)
  return new StoreError(`S3 ${operation} ${key} failed: ${s.name ?? 'error'} (HTTP ${status ?? '?'}): ${s.message ?? ''}`, { cause: error });
}
