// The signed delta index as the device reads it (release/on-demand-delta.ts) and the garbage
// collection rule (release/on-demand-gc.ts): pure functions.
import { describe, expect, it } from 'vitest';
import { deltaWorkflowId, onDemandDeltasFor, onDemandTargetEntry, onDemandTargetPath, withOnDemandDeltas } from '../../release/on-demand-delta.js';
import { chooseDeltasToCollect, parseAge, type CollectableDelta } from '../../release/on-demand-gc.js';

const sha = (c: string) => c.repeat(64);
const HW = 'gw-a';
const entry = (from: string, to = sha('f'), extra: Record<string, unknown> = {}) =>
  onDemandTargetEntry({ format: 'ops', fromVersion: '1.0.0', fromSha256: from, toSha256: to, location: `blobs/sha256/${sha('c')}`, sha256: sha('c'), length: 77, ...extra } as never);

describe('on-demand delta index', () => {
  it('names the workflow by both digests and the target by release and base', () => {
    expect(deltaWorkflowId(sha('a'), sha('b'))).toBe(`delta-${'a'.repeat(12)}-${'b'.repeat(12)}`);
    expect(onDemandTargetPath(HW, '1.3.0', sha('a'), 'ops')).toBe(`releases/${HW}/1.3.0/on-demand/${sha('a')}.ops`);
  });

  it('reads the deltas the targets list for this release and image, as manifest deltas', () => {
    const targets = { [onDemandTargetPath(HW, '1.3.0', sha('a'), 'ops')]: entry(sha('a')), [`releases/${HW}/1.3.0/manifest.json`]: { length: 10, hashes: { sha256: sha('d') }, custom: { signer: 'k' } } };
    expect(onDemandDeltasFor(targets, HW, '1.3.0', sha('f'))).toEqual([{ format: 'ops', fromVersion: '1.0.0', fromSha256: sha('a'), toSha256: sha('f'), sha256: sha('c'), length: 77, location: `blobs/sha256/${sha('c')}`, compression: 'none' }]);
  });

  it('ignores entries for another release, another image, a mismatched path, or malformed custom data', () => {
    const targets = {
      [onDemandTargetPath(HW, '1.2.0', sha('a'), 'ops')]: entry(sha('a')), // another release
      [onDemandTargetPath(HW, '1.3.0', sha('b'), 'ops')]: entry(sha('b'), sha('e')), // rebuilds another image
      [onDemandTargetPath(HW, '1.3.0', sha('9'), 'ops')]: entry(sha('8')), // path names another base
      [onDemandTargetPath(HW, '1.3.0', sha('7'), 'ops')]: { length: 5, hashes: { sha256: sha('c') }, custom: { onDemandDelta: { format: 'ops', fromSha256: sha('7') } } },
      [onDemandTargetPath(HW, '1.3.0', sha('6'), 'ops')]: { length: 5, hashes: {}, custom: entry(sha('6')).custom },
      [onDemandTargetPath(HW, '1.3.0', sha('f'), 'ops')]: entry(sha('f')), // from the image itself
    };
    expect(onDemandDeltasFor(targets, HW, '1.3.0', sha('f'))).toEqual([]);
  });

  it('the manifest keeps its own delta for a base; on-demand ones are added for other bases', () => {
    const own = { format: 'ops' as const, fromVersion: '1.2.0', fromSha256: sha('a'), toSha256: sha('f'), sha256: sha('1'), length: 5, location: 'blobs/sha256/x', compression: 'none' as const };
    const other = { ...own, fromVersion: '1.0.0', fromSha256: sha('b'), sha256: sha('2') };
    const manifest = { deltas: [own] };
    expect(withOnDemandDeltas(manifest, [{ ...own, sha256: sha('3') }])).toBe(manifest);
    expect(withOnDemandDeltas(manifest, [other]).deltas).toEqual([own, other]);
  });
});

describe('on-demand delta garbage collection', () => {
  const now = new Date('2026-12-02T00:00:00Z');
  const day = 86_400_000;
  const d = (toVersion: string, from: string, usedDaysAgo: number | null, location = `blobs/sha256/${sha(from)}`): CollectableDelta => ({
    hardwareId: HW, toVersion, fromVersion: '1.0.0', fromSha256: sha(from), format: 'ops', location,
    lastUsedAt: usedDaysAgo === null ? null : new Date(now.getTime() - usedDaysAgo * day), readyAt: new Date(now.getTime() - 90 * day),
  });

  it('removes deltas unused for longer than the age beyond the newest N per release, never one a manifest lists', () => {
    const old1 = d('1.3.0', 'a', 40);
    const old2 = d('1.3.0', 'b', 50);
    const old3 = d('1.3.0', 'c', 60, 'blobs/sha256/listed');
    const recent = d('1.3.0', '1', 2);
    const never = d('1.2.0', '2', null);
    const decision = chooseDeltasToCollect([old1, old2, old3, recent, never], { now, olderThanMs: 30 * day, keepPerRelease: 1 }, new Set(['blobs/sha256/listed']));
    expect(decision.remove).toEqual([old1, old2]);
    expect(decision.keep.map((k) => [k.delta.fromSha256[0], k.why])).toEqual([
      ['1', 'among the 1 most recently used of 1.3.0'],
      ['c', 'a manifest lists these bytes'],
      ['2', 'among the 1 most recently used of 1.2.0'],
    ]);
    expect(chooseDeltasToCollect([old1, recent], { now, olderThanMs: 30 * day, keepPerRelease: 0 }, new Set()).remove).toEqual([old1]);
    expect(chooseDeltasToCollect([old1, old2], { now, olderThanMs: 30 * day, keepPerRelease: 5 }, new Set()).remove).toEqual([]);
  });

  it('parses ages and refuses anything else', () => {
    expect(parseAge('30d')).toBe(30 * day);
    expect(parseAge('12h')).toBe(12 * 3_600_000);
    expect(parseAge('90m')).toBe(90 * 60_000);
    expect(parseAge('0s')).toBe(0);
    expect(() => parseAge('30')).toThrow(/number and a unit/);
    expect(() => parseAge('-1d')).toThrow(/number and a unit/);
  });
});
