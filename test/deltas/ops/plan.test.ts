// planOps: short verbatim matches between two changed regions are diffed with them (one BSDIFF
// op, whose control encodes the match in a few bytes) instead of becoming COPY ops of their own,
// each with an 80-byte record and cutting a BSDIFF op in two. Long matches and matches that touch
// another covered region stay COPY ops.
import { describe, expect, it } from 'vitest';
import { MIN_COPY_BETWEEN_GAPS, planOps } from '../../../deltas/ops/plan.js';

const KiB = 1024;

describe('planOps and short copies', () => {
  // target: [gap 0-10K) [copy 10K-18K) [gap 18K-20K) [copy 20K-120K) [gap 120K-130K)
  const matches = [10 * KiB, 10 * KiB, 8 * KiB, 20 * KiB, 20 * KiB, 100 * KiB];
  const input = { targetLength: 130 * KiB, sourceLength: 130 * KiB, matches, zeros: [], maxOpBytes: 1 << 20 };

  it('diffs a short match between two changes together with them', () => {
    const ops = planOps(input);
    expect(ops.map((o) => [o.kind, o.targetOffset, o.targetLength])).toEqual([
      ['diff', 0, 20 * KiB],
      ['copy', 20 * KiB, 100 * KiB],
      ['diff', 120 * KiB, 10 * KiB],
    ]);
    expect(8 * KiB).toBeLessThan(MIN_COPY_BETWEEN_GAPS);
  });

  it('keeps every copy when asked to (minCopyBetweenGaps 0)', () => {
    expect(planOps({ ...input, minCopyBetweenGaps: 0 }).map((o) => o.kind)).toEqual(['diff', 'copy', 'diff', 'copy', 'diff']);
  });

  it('keeps a short match next to another covered region', () => {
    // The short copy ends where a zero run starts: nothing to merge on that side.
    const ops = planOps({ ...input, zeros: [18 * KiB, 2 * KiB] });
    expect(ops.map((o) => o.kind)).toEqual(['diff', 'copy', 'zero', 'copy', 'diff']);
  });
});
