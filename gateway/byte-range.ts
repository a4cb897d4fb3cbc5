// HTTP Range (RFC 9110 section 14) for one range of a known-size object: "bytes=a-b", "bytes=a-",
// "bytes=-n". Several ranges or another unit: answer the whole object (the RFC allows ignoring Range).
// Not on range-parser: 1.2.1, the last release for Node 20 (2.x needs Node >= 22), answers 416 where RFC 9110
// says otherwise: a suffix longer than the object ("bytes=-500" of 100 bytes: the whole object), an invalid
// "bytes=5-2" or "bytes=-" (ignore the header); and it reads "bytes=1a-5" as 1-5.
export type RangeRequest =
  | { kind: 'whole' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

export function parseRangeHeader(header: string | undefined, size: number): RangeRequest {
  if (!header) return { kind: 'whole' };
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return { kind: 'whole' };
  const [, first, last] = match;
  if (first === '' && last === '') return { kind: 'whole' };
  if (first === '') {
    // Suffix: the last n bytes.
    const n = Number(last);
    if (n === 0) return { kind: 'unsatisfiable' };
    return size === 0 ? { kind: 'unsatisfiable' } : { kind: 'partial', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (!Number.isSafeInteger(start) || start >= size) return { kind: 'unsatisfiable' };
  if (end < start) return { kind: 'whole' }; // syntactically invalid: ignore the header
  return { kind: 'partial', start, end };
}
