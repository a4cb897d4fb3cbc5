// Typed errors for the ops delta format, so callers (CLI, device agent) can tell a damaged
// download from a patch meant for another image without parsing messages.

export const OPS_DELTA_ERROR_CODES = [
  'bad-magic', // not an ops patch
  'unsupported-version', // a newer format than this code knows
  'malformed', // a header, op record or trailer field is out of range
  'truncated', // the patch ended before its trailer
  'out-of-order', // an op's index or target offset is not the next one (reordered or dropped ops)
  'past-target-end', // an op writes beyond the declared target length
  'source-mismatch', // the source image is not the one the patch was made from
  'op-hash-mismatch', // an op wrote bytes whose sha256 differs from its record
  'corrupt-payload', // a payload does not decode (bsdiff or compression)
  'patch-digest-mismatch', // the trailer's digest does not cover the bytes read
  'trailing-data', // bytes after the trailer
  'bad-resume', // a resume point that does not fit the partial output
] as const;

export type OpsDeltaErrorCode = (typeof OPS_DELTA_ERROR_CODES)[number];

export function isOpsDeltaErrorCode(code: string): code is OpsDeltaErrorCode {
  return (OPS_DELTA_ERROR_CODES as readonly string[]).includes(code);
}

export class OpsDeltaError extends Error {
  override name = 'OpsDeltaError';
  constructor(
    readonly code: OpsDeltaErrorCode,
    message: string,
  ) {
    super(message);
  }
}
