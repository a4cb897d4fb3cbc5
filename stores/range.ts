// Turns an inclusive byte range into concrete offsets for an object of known size, the way
// HTTP Range does: an end past the object is clamped, a start past it is an error.
import type { ByteRange } from './artifact-store.js';
import { InvalidRangeError } from './errors.js';

export function assertRangeShape(key: string, range: ByteRange): void {
  for (const [name, value] of Object.entries(range)) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
      throw new InvalidRangeError(key, `${name} must be a non-negative integer, got ${value}`);
    }
  }
  if (range.start !== undefined && range.end !== undefined && range.start > range.end) {
    throw new InvalidRangeError(key, `start ${range.start} is after end ${range.end}`);
  }
}

export function resolveRange(key: string, range: ByteRange, size: number): { start: number; end: number } {
  assertRangeShape(key, range);
  const start = range.start ?? 0;
  const end = Math.min(range.end ?? size - 1, size - 1);
  if (start >= size) throw new InvalidRangeError(key, `start ${start} is at or past the object size ${size}`);
  return { start, end };
}

/** The HTTP Range header value for a range, or undefined for the whole object. */
export function rangeHeader(key: string, range: ByteRange): string | undefined {
  assertRangeShape(key, range);
  if (range.start === undefined && range.end === undefined) return undefined;
  return `bytes=${range.start ?? 0}-${range.end ?? ''}`;
}
