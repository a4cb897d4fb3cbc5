// Turns scan results (verbatim source matches and zero runs) into the ordered list of ops that
// writes the target. Pure: no I/O, unit-testable. The interesting part is choosing, for every
// region the scan could not match, the source extent its bsdiff runs against:
//  - tar images: the member with the same path in the old image;
//  - otherwise the source bytes between the anchor matches around the region (a rebuilt binary
//    sits between unchanged neighbours in both images), mapped proportionally when the region is
//    split into several ops, plus a margin for code that moved within it.

export type PlannedOp =
  | { kind: 'copy'; targetOffset: number; targetLength: number; sourceOffset: number }
  | { kind: 'zero'; targetOffset: number; targetLength: number }
  | { kind: 'diff'; targetOffset: number; targetLength: number; sourceOffset: number; sourceLength: number }
  | { kind: 'replace'; targetOffset: number; targetLength: number };

export interface Extent {
  start: number;
  end: number;
}

/** Pairs a target member extent with the same path's extent in the source (tar mode). */
export interface MemberPair {
  target: Extent;
  source: Extent;
}

export interface PlanInput {
  targetLength: number;
  sourceLength: number;
  /** Flat [targetOffset, sourceOffset, length]... from the scan, any order. */
  matches: number[];
  /** Flat [targetOffset, length]... */
  zeros: number[];
  /** Tar mode: target members that have a same-path member in the source, in target order. */
  members?: MemberPair[];
  /** Largest target length of one op. */
  maxOpBytes: number;
  /** Default MIN_COPY_BETWEEN_GAPS; 0 keeps every copy. */
  minCopyBetweenGaps?: number;
}

/** Regions smaller than this are stored (REPLACE) rather than diffed: bsdiff's own overhead is ~100 bytes. */
const MIN_DIFF_TARGET = 512;
const MIN_DIFF_SOURCE = 256;
/**
 * A verbatim match shorter than this between two unmatched regions (each also shorter) is diffed
 * with them rather than copied: each op costs an 80-byte record, and a BSDIFF op three bzip2 streams besides, while bsdiff
 * encodes the same match in a few bytes of its control and a run of zero diff bytes. On a rebuilt
 * executable the scan finds thousands of such short matches between small changes.
 */
export const MIN_COPY_BETWEEN_GAPS = 32 * 1024;
/** How much more source than 4 x the target a gap may span and still be mapped proportionally. */
const PROPORTIONAL_SLACK = 1024 * 1024;

type Covered = { kind: 'copy'; t: number; s: number; len: number } | { kind: 'zero'; t: number; len: number };

/** Sorted, overlap-free, with contiguous same-offset matches (split at segment borders) joined. */
export function coveredRegions(matches: number[], zeros: number[]): Covered[] {
  const items: Covered[] = [];
  for (let i = 0; i < matches.length; i += 3) items.push({ kind: 'copy', t: matches[i]!, s: matches[i + 1]!, len: matches[i + 2]! });
  for (let i = 0; i < zeros.length; i += 2) items.push({ kind: 'zero', t: zeros[i]!, len: zeros[i + 1]! });
  items.sort((a, b) => a.t - b.t);
  const out: Covered[] = [];
  for (const item of items) {
    const prev = out[out.length - 1];
    const prevEnd = prev ? prev.t + prev.len : 0;
    if (item.t < prevEnd) {
      const cut = prevEnd - item.t;
      if (cut >= item.len) continue;
      item.t += cut;
      item.len -= cut;
      if (item.kind === 'copy') item.s += cut;
    }
    if (prev && prev.t + prev.len === item.t && prev.kind === item.kind && (prev.kind !== 'copy' || prev.s + prev.len === (item as { s: number }).s)) {
      prev.len += item.len;
    } else out.push(item);
  }
  return out;
}

/**
 * Drops short copies between two small unmatched regions, so the changes around them merge into
 * one op. Only small ones: a large unmatched region (a rewritten compressed section) stays its own
 * op, where the worker can store it without a bsdiff attempt.
 */
export function absorbShortCopies(covered: Covered[], targetLength: number, minCopy = MIN_COPY_BETWEEN_GAPS): Covered[] {
  return covered.filter((item, i) => {
    if (item.kind !== 'copy' || item.len >= minCopy) return true;
    const gapBefore = item.t - (i > 0 ? covered[i - 1]!.t + covered[i - 1]!.len : 0);
    const gapAfter = (i + 1 < covered.length ? covered[i + 1]!.t : targetLength) - (item.t + item.len);
    return !(gapBefore > 0 && gapAfter > 0 && gapBefore < minCopy && gapAfter < minCopy);
  });
}

/** n near-equal pieces of at most max bytes. */
function split(start: number, end: number, max: number): Extent[] {
  const count = Math.max(1, Math.ceil((end - start) / max));
  const size = Math.ceil((end - start) / count);
  const out: Extent[] = [];
  for (let at = start; at < end; at += size) out.push({ start: at, end: Math.min(end, at + size) });
  return out;
}

/** A stretch of unmatched target and the source region it is mapped onto (proportionally). */
interface Cluster {
  target: Extent;
  source: Extent;
}

function sourceWindow(piece: Extent, cluster: Cluster, sourceLength: number, maxExtent: number): Extent | undefined {
  const len = piece.end - piece.start;
  const margin = Math.max(0, Math.min(Math.floor((maxExtent - len) / 2), 64 * 1024 + Math.ceil(len / 2)));
  const cT = cluster.target.end - cluster.target.start;
  const cS = cluster.source.end - cluster.source.start;
  let lo: number;
  let hi: number;
  if (cS < MIN_DIFF_SOURCE) return undefined; // pure insertion: nothing in the source to diff against
  if (cS <= 4 * cT + PROPORTIONAL_SLACK) {
    const ratio = cS / cT;
    lo = Math.max(cluster.source.start - margin, Math.floor(cluster.source.start + (piece.start - cluster.target.start) * ratio) - margin);
    hi = Math.min(cluster.source.end + margin, Math.ceil(cluster.source.start + (piece.end - cluster.target.start) * ratio) + margin);
  } else {
    // The neighbours do not bracket a plausible region (content moved): diff against the
    // source at the same distance from the preceding match.
    lo = cluster.source.start + (piece.start - cluster.target.start) - margin;
    hi = lo + len + 2 * margin;
  }
  lo = Math.max(0, lo);
  hi = Math.min(sourceLength, hi, lo + maxExtent);
  return hi - lo >= MIN_DIFF_SOURCE ? { start: lo, end: hi } : undefined;
}

/** Part of a gap, with the cluster its source window is taken from. */
interface GapPart {
  part: Extent;
  cluster: Cluster;
}

/** Splits a gap at target member borders so each part is diffed against its own old file. */
function gapParts(gap: Extent, fallback: Cluster, members: MemberPair[] | undefined): GapPart[] {
  if (!members?.length) return [{ part: gap, cluster: fallback }];
  const out: GapPart[] = [];
  // First member that ends after the gap starts (members are in target order).
  let lo = 0;
  let hi = members.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (members[mid]!.target.end <= gap.start) lo = mid + 1;
    else hi = mid;
  }
  let pos = gap.start;
  for (let i = lo; i < members.length && members[i]!.target.start < gap.end; i++) {
    const m = members[i]!;
    if (m.target.start > pos) out.push({ part: { start: pos, end: m.target.start }, cluster: fallback });
    const start = Math.max(pos, m.target.start);
    const end = Math.min(gap.end, m.target.end);
    if (end > start) out.push({ part: { start, end }, cluster: m });
    pos = Math.max(pos, end);
  }
  if (pos < gap.end) out.push({ part: { start: pos, end: gap.end }, cluster: fallback });
  return out;
}

type Copy = Extract<Covered, { kind: 'copy' }>;

/**
 * The copies that keep image order: the heaviest chain (by bytes) whose source offsets grow with
 * the target offsets. A short match elsewhere (a common byte run found in another binary) is still
 * copied, but it must not decide which source region the unmatched bytes around it are diffed
 * against, or a whole rebuilt section would be diffed against an unrelated binary.
 * Weighted longest increasing subsequence, O(n log n) with a Fenwick tree of prefix maxima.
 */
export function anchorCopies(copies: Copy[]): Copy[] {
  const n = copies.length;
  if (n === 0) return [];
  const ranks = [...new Set(copies.map((c) => c.s))].sort((a, b) => a - b);
  const rankOf = new Map(ranks.map((s, i) => [s, i + 1]));
  const treeWeight = new Float64Array(ranks.length + 1);
  const treeIndex = new Int32Array(ranks.length + 1).fill(-1);
  const best = new Float64Array(n);
  const prev = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const rank = rankOf.get(copies[i]!.s)!;
    // Best chain ending at a copy with a smaller source offset.
    let weight = 0;
    let from = -1;
    for (let r = rank - 1; r > 0; r -= r & -r) {
      if (treeWeight[r]! > weight) {
        weight = treeWeight[r]!;
        from = treeIndex[r]!;
      }
    }
    best[i] = weight + copies[i]!.len;
    prev[i] = from;
    for (let r = rank; r <= ranks.length; r += r & -r) {
      if (best[i]! > treeWeight[r]!) {
        treeWeight[r] = best[i]!;
        treeIndex[r] = i;
      }
    }
  }
  let end = 0;
  for (let i = 1; i < n; i++) if (best[i]! > best[end]!) end = i;
  const chain: Copy[] = [];
  for (let i = end; i >= 0; i = prev[i]!) chain.push(copies[i]!);
  return chain.reverse();
}

export function planOps(input: PlanInput): PlannedOp[] {
  const { targetLength: T, sourceLength: S, maxOpBytes } = input;
  const maxExtent = 2 * maxOpBytes;
  const covered = absorbShortCopies(coveredRegions(input.matches, input.zeros), T, input.minCopyBetweenGaps);
  const copies = anchorCopies(covered.filter((c): c is Copy => c.kind === 'copy'));
  const ops: PlannedOp[] = [];
  let nextCopy = 0;

  const emitGap = (gap: Extent) => {
    while (nextCopy < copies.length && copies[nextCopy]!.t < gap.end) nextCopy++;
    const before = copies[nextCopy - 1];
    const after = copies[nextCopy];
    // The unmatched cluster around this gap: from the previous anchor's end to the next one's start.
    const fallback: Cluster = {
      target: { start: before ? before.t + before.len : 0, end: after ? after.t : T },
      source: { start: before ? before.s + before.len : 0, end: after ? after.s : S },
    };
    for (const { part, cluster } of gapParts(gap, fallback, input.members)) {
      for (const piece of split(part.start, part.end, maxOpBytes)) {
        const length = piece.end - piece.start;
        const window = length >= MIN_DIFF_TARGET ? sourceWindow(piece, cluster, S, maxExtent) : undefined;
        ops.push(
          window
            ? { kind: 'diff', targetOffset: piece.start, targetLength: length, sourceOffset: window.start, sourceLength: window.end - window.start }
            : { kind: 'replace', targetOffset: piece.start, targetLength: length },
        );
      }
    }
  };

  let pos = 0;
  for (const item of covered) {
    if (item.t > pos) emitGap({ start: pos, end: item.t });
    for (const piece of split(item.t, item.t + item.len, maxOpBytes)) {
      ops.push(
        item.kind === 'copy'
          ? { kind: 'copy', targetOffset: piece.start, targetLength: piece.end - piece.start, sourceOffset: item.s + (piece.start - item.t) }
          : { kind: 'zero', targetOffset: piece.start, targetLength: piece.end - piece.start },
      );
    }
    pos = item.t + item.len;
  }
  if (pos < T) emitGap({ start: pos, end: T });
  return ops;
}
