// The API's refusals: an HTTP status and a distinct code per cause, so a client (CLI, console, CI)
// can tell "who are you" (401) from "not you" (403) from "no such thing" (404) without reading text.
import { CodedError } from '../platform/coded-error.js';

export type OperatorErrorCode =
  | 'MISSING_TOKEN'
  | 'INVALID_TOKEN'
  | 'TOKEN_EXPIRED'
  | 'TOKEN_REVOKED'
  | 'NO_ROLE'
  | 'FORBIDDEN'
  | 'FOUR_EYES'
  | 'BAD_REQUEST'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'REFUSED'
  | 'UNAVAILABLE';

const STATUS: Record<OperatorErrorCode, number> = {
  MISSING_TOKEN: 401,
  INVALID_TOKEN: 401,
  TOKEN_EXPIRED: 401,
  TOKEN_REVOKED: 401,
  NO_ROLE: 403,
  FORBIDDEN: 403,
  FOUR_EYES: 403,
  BAD_REQUEST: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  // The workflow (or the trust repository) answered no: the request was understood and refused.
  REFUSED: 422,
  UNAVAILABLE: 503,
};

export class OperatorError extends CodedError<OperatorErrorCode> {
  get status(): number {
    return STATUS[this.code];
  }
}

/** The JSON body of every refusal. */
export interface ErrorBody {
  error: { code: string; message: string };
}
