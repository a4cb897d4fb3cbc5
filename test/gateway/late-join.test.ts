import { describe, expect, it } from 'vitest';
import { lateJoinRing, type LateJoinRing } from '../../gateway/late-join.js';

const ring = (name: string, size: LateJoinRing['size'], assigned: number, opened: boolean, labels: Record<string, string> = {}): LateJoinRing => ({ name, size, labels, assigned, opened });

describe('lateJoinRing', () => {
  it('fills the first ring below its cumulative target', () => {
    // canary 5 (has 4: the fleet was small in eu), early 25%, rest 100%.
    const rings = [ring('canary', { count: 5 }, 4, true), ring('early', { percent: 25 }, 1, false), ring('rest', { percent: 100 }, 15, false)];
    expect(lateJoinRing(rings, {}, true)).toEqual({ ring: 'canary', action: 'offer', target: 5 });
  });

  it('joins a later ring when the earlier ones are full, and holds while that ring is not open', () => {
    const rings = [ring('canary', { count: 2 }, 2, true), ring('early', { percent: 50 }, 3, false), ring('rest', { percent: 100 }, 5, false)];
    // 11 devices with this one: early's target is 6 cumulative, it holds 5 with canary.
    expect(lateJoinRing(rings, {}, true)).toEqual({ ring: 'early', action: 'hold', target: 6 });
  });

  it('percent rings grow with the fleet; the last ring takes the rest', () => {
    const rings = [ring('canary', { count: 1 }, 1, true), ring('half', { percent: 50 }, 4, true), ring('rest', { percent: 100 }, 5, true)];
    // 11 with this one: half = 6 cumulative, 5 in canary + half: half takes it.
    expect(lateJoinRing(rings, {}, true)).toMatchObject({ ring: 'half', action: 'offer' });
    const full = [ring('canary', { count: 1 }, 1, true), ring('half', { percent: 50 }, 5, true), ring('rest', { percent: 100 }, 4, true)];
    // 11: half = 6 cumulative, already 6: rest (11) takes it.
    expect(lateJoinRing(full, {}, true)).toMatchObject({ ring: 'rest', action: 'offer' });
  });

  it('skips rings whose labels the device does not carry', () => {
    const rings = [ring('canary', { count: 5 }, 1, true, { region: 'eu' }), ring('rest', { percent: 100 }, 3, false)];
    expect(lateJoinRing(rings, { region: 'us' }, true)).toMatchObject({ ring: 'rest', action: 'hold' });
    expect(lateJoinRing(rings, { region: 'eu' }, true)).toMatchObject({ ring: 'canary', action: 'offer' });
  });

  it('stays out of a rollout that covers only part of the fleet once that part is full', () => {
    const rings = [ring('canary', { count: 1 }, 1, true), ring('half', { percent: 50 }, 4, true)];
    // 10 with this one: half = 5 cumulative, already 5.
    expect(lateJoinRing(rings, {}, true)).toBeUndefined();
    expect(lateJoinRing([], {}, true)).toBeUndefined();
  });

  it('resolves percent sizes against the devices the rollout targets now, not only its members', () => {
    // 10 targeted at the start, 5 assigned (canary 1 + half 4); 2 devices enrolled since: 12 targeted, half = 6.
    const rings = [ring('canary', { count: 1 }, 1, true), ring('half', { percent: 50 }, 4, true)];
    expect(lateJoinRing(rings, {}, true, 12)).toEqual({ ring: 'half', action: 'offer', target: 6 });
    expect(lateJoinRing(rings, {}, true, 10)).toBeUndefined();
  });

  it('holds in an open ring while the rollout is halted', () => {
    expect(lateJoinRing([ring('all', { percent: 100 }, 3, true)], {}, false)).toEqual({ ring: 'all', action: 'hold', target: 4 });
  });

  it('keeps to the exposure budget: an open ring before the last one that would pass it hands the device on', () => {
    // 20 targeted with this one; budget 30% = 6 devices; canary (count 5) and early (40% = 8) are open, 6 exposed.
    const rings = [ring('canary', { count: 5 }, 3, true), ring('early', { percent: 40 }, 3, true), ring('rest', { percent: 100 }, 10, false)];
    expect(lateJoinRing(rings, {}, true, 20)).toEqual({ ring: 'canary', action: 'offer', target: 5 });
    expect(lateJoinRing(rings, {}, true, 20, { percent: 30 })).toEqual({ ring: 'rest', action: 'hold', target: 20 });
    // Below the budget the open ring takes it at once; the last ring is never capped (it is the whole target).
    expect(lateJoinRing(rings, {}, true, 20, { count: 7 })).toMatchObject({ ring: 'canary', action: 'offer' });
    const lastOpen = [ring('canary', { count: 2 }, 2, true), ring('rest', { percent: 100 }, 7, true)];
    expect(lateJoinRing(lastOpen, {}, true, 10, { count: 3 })).toEqual({ ring: 'rest', action: 'offer', target: 10 });
    // A partial rollout whose only room is over budget: the device stays out.
    const partial = [ring('canary', { count: 5 }, 3, true), ring('early', { percent: 40 }, 5, true), ring('half', { percent: 50 }, 2, false)];
    expect(lateJoinRing(partial, {}, true, 20)).toMatchObject({ ring: 'canary' });
    expect(lateJoinRing(partial, {}, true, 20, { count: 3 })).toBeUndefined();
  });
});
