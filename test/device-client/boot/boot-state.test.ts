import { describe, expect, it } from 'vitest';
import {
  BootStateError,
  DEFAULT_TRIES,
  MAX_TRIES,
  SLOTS,
  chooseInstallTarget,
  initialBootState,
  isBootable,
  markActive,
  markBad,
  markGood,
  primarySlot,
  sameBootState,
  simulateBoot,
  validateBootState,
  type BootState,
  type SlotName,
} from '../../../device-client/boot/boot-state.js';

function bootNTimes(state: BootState, n: number): { slots: (SlotName | null)[]; state: BootState } {
  const slots: (SlotName | null)[] = [];
  for (let i = 0; i < n; i++) {
    const outcome = simulateBoot(state);
    slots.push(outcome.slot);
    state = outcome.state;
  }
  return { slots, state };
}

describe('initial state and validation', () => {
  it('starts on A committed, B empty, order A B', () => {
    const state = initialBootState();
    expect(state).toEqual({ order: ['A', 'B'], tries: { A: DEFAULT_TRIES, B: 0 }, good: { A: true, B: false } });
    expect(primarySlot(state)).toBe('A');
  });

  it('rejects broken states with the rule that broke', () => {
    const bad = (patch: object) => () => validateBootState({ ...initialBootState(), ...patch } as BootState);
    expect(bad({ order: ['A', 'A'] })).toThrow(/boot order must be "A B" or "B A"/);
    expect(bad({ order: ['A'] })).toThrow(BootStateError);
    expect(bad({ tries: { A: -1, B: 0 } })).toThrow(/tries for slot A/);
    expect(bad({ tries: { A: 1, B: MAX_TRIES + 1 } })).toThrow(/tries for slot B/);
    expect(bad({ tries: { A: 1.5, B: 0 } })).toThrow(/tries for slot A/);
    expect(bad({ good: { A: true, B: 'yes' } })).toThrow(/good flag for slot B/);
  });
});

describe('simulateBoot', () => {
  it('boots a committed slot without spending tries', () => {
    const outcome = simulateBoot(initialBootState());
    expect(outcome.slot).toBe('A');
    expect(outcome.trial).toBe(false);
    expect(outcome.state).toEqual(initialBootState());
  });

  it('spends one try on an uncommitted slot and does not mutate its input', () => {
    const before = markActive(initialBootState(), 'B', 2);
    const snapshot = structuredClone(before);
    const outcome = simulateBoot(before);
    expect(outcome).toMatchObject({ slot: 'B', trial: true });
    expect(outcome.state.tries.B).toBe(1);
    expect(before).toEqual(snapshot);
  });

  it('skips a slot with no tries left and falls back to the other one', () => {
    const { slots, state } = bootNTimes(markActive(initialBootState(), 'B', 3), 5);
    expect(slots).toEqual(['B', 'B', 'B', 'A', 'A']);
    expect(state.tries.B).toBe(0);
    expect(state.order).toEqual(['B', 'A']);
  });

  it('reports no slot when nothing is bootable (unreachable through the API, reachable from a hand-edited env)', () => {
    const dead: BootState = { order: ['A', 'B'], tries: { A: 0, B: 0 }, good: { A: false, B: false } };
    expect(simulateBoot(dead)).toEqual({ slot: null, trial: false, state: dead });
  });
});

describe('markActive', () => {
  it('puts the new slot first with N tries, uncommitted, keeping the other as fallback', () => {
    const state = markActive(initialBootState(), 'B', 4);
    expect(state).toEqual({ order: ['B', 'A'], tries: { A: DEFAULT_TRIES, B: 4 }, good: { A: true, B: false } });
  });

  it('refuses when the fallback slot is not committed', () => {
    const trial = markActive(initialBootState(), 'B'); // running B on trial, A still good
    expect(() => markActive(trial, 'A')).toThrow(/fallback slot B is not committed/);
  });

  it('refuses 0 tries and more than MAX_TRIES', () => {
    expect(() => markActive(initialBootState(), 'B', 0)).toThrow(/at least 1 try/);
    expect(() => markActive(initialBootState(), 'B', MAX_TRIES + 1)).toThrow(/tries must be an integer/);
  });
});

describe('markGood', () => {
  it('commits a slot: good, tries reset, later boots stay on it', () => {
    const booted = simulateBoot(markActive(initialBootState(), 'B', 3));
    expect(booted.slot).toBe('B');
    const committed = markGood(booted.state, 'B');
    expect(committed.good.B).toBe(true);
    expect(committed.tries.B).toBe(DEFAULT_TRIES);
    expect(bootNTimes(committed, 10).slots).toEqual(Array(10).fill('B'));
  });
});

describe('markBad', () => {
  it('takes a slot out: no tries, not good, behind the other; next boot is the other slot', () => {
    const trial = simulateBoot(markActive(initialBootState(), 'B', 3)).state;
    const failed = markBad(trial, 'B');
    expect(failed).toEqual({ order: ['A', 'B'], tries: { A: DEFAULT_TRIES, B: 0 }, good: { A: true, B: false } });
    expect(simulateBoot(failed).slot).toBe('A');
  });

  it('may drop one of two committed slots', () => {
    const both = markGood(markActive(initialBootState(), 'B'), 'B');
    expect(simulateBoot(markBad(both, 'B')).slot).toBe('A');
    expect(simulateBoot(markBad(both, 'A')).slot).toBe('B');
  });

  it('refuses to mark the only committed slot bad', () => {
    expect(() => markBad(initialBootState(), 'A')).toThrow(/refusing to mark slot A bad: slot B is not committed/);
    const trial = markActive(initialBootState(), 'B');
    expect(() => markBad(trial, 'A')).toThrow(BootStateError);
  });
});

describe('chooseInstallTarget', () => {
  it('is always the slot we are not running from', () => {
    expect(chooseInstallTarget(initialBootState(), 'A')).toBe('B');
    expect(chooseInstallTarget(markActive(initialBootState(), 'B'), 'B')).toBe('A');
  });
});

// Every state reachable from a provisioned device through the operations an agent performs, explored
// breadth-first to a fixed depth with the booted slot tracked. Refused operations leave the state as is.
describe('exhaustive small-state checks', () => {
  type Node = { state: BootState; booted: SlotName };
  const key = (n: Node) => `${n.booted}|${JSON.stringify(n.state)}`;
  const hasGoodSlot = (s: BootState) => SLOTS.some((slot) => s.good[slot] && isBootable(s, slot));

  function successors(node: Node): Node[] {
    const out: Node[] = [];
    const attempt = (f: () => Node) => {
      try {
        out.push(f());
      } catch (error) {
        if (!(error instanceof BootStateError)) throw error;
      }
    };
    attempt(() => {
      const outcome = simulateBoot(node.state);
      if (!outcome.slot) throw new Error(`no bootable slot in ${JSON.stringify(node.state)}`);
      return { state: outcome.state, booted: outcome.slot };
    });
    attempt(() => ({ state: markGood(node.state, node.booted), booted: node.booted }));
    for (const slot of SLOTS) attempt(() => ({ state: markBad(node.state, slot), booted: node.booted }));
    for (let tries = 1; tries <= 3; tries++) {
      attempt(() => ({ state: markActive(node.state, chooseInstallTarget(node.state, node.booted), tries), booted: node.booted }));
    }
    return out;
  }

  function explore(starts: Node[], depth: number): Map<string, Node> {
    const seen = new Map<string, Node>();
    let frontier = starts;
    for (let d = 0; d <= depth && frontier.length; d++) {
      const next: Node[] = [];
      for (const node of frontier) {
        if (seen.has(key(node))) continue;
        seen.set(key(node), node);
        next.push(...successors(node));
      }
      frontier = next;
    }
    return seen;
  }

  // Every state with tries 0..3 that keeps the invariant, with either slot booted.
  const bools = [false, true];
  const validStarts: Node[] = [];
  for (const order of [['A', 'B'], ['B', 'A']] as const)
    for (let a = 0; a <= 3; a++) for (let b = 0; b <= 3; b++) for (const ga of bools) for (const gb of bools)
      for (const booted of SLOTS) {
        const state: BootState = { order: [...order], tries: { A: a, B: b }, good: { A: ga, B: gb } };
        if (hasGoodSlot(state)) validStarts.push({ state, booted });
      }
  const fromProvisioning = [...explore([{ state: initialBootState(), booted: 'A' }], 12).values()];
  const reachable = [...explore(validStarts, 8).values()];

  it('reaches the update life cycle from a provisioned device', () => {
    const has = (p: (n: Node) => boolean) => fromProvisioning.some(p);
    expect(has((n) => n.booted === 'B' && !n.state.good.B)).toBe(true); // B on trial
    expect(has((n) => n.booted === 'B' && n.state.good.B && !n.state.good.A)).toBe(true); // B committed, A emptied
    expect(has((n) => n.state.order[0] === 'A' && !n.state.good.A && n.state.tries.A > 0 && n.booted === 'B')).toBe(true); // next update to A
    expect(has((n) => n.booted === 'A' && n.state.order[0] === 'B' && n.state.tries.B === 0)).toBe(true); // fell back from B
    expect(reachable.length).toBeGreaterThanOrEqual(validStarts.length);
  });

  it('always keeps a committed, bootable slot', () => {
    for (const { state } of [...fromProvisioning, ...reachable]) expect(hasGoodSlot(state), JSON.stringify(state)).toBe(true);
  });

  it('never writes an install into the running slot', () => {
    for (const { state, booted } of reachable) expect(chooseInstallTarget(state, booted)).not.toBe(booted);
  });

  it('settles on a committed slot after at most (sum of tries) boots with no agent help', () => {
    for (const { state } of reachable) {
      const budget = state.tries.A + state.tries.B;
      const { state: after } = bootNTimes(state, budget);
      const settled = simulateBoot(after);
      expect(settled.slot, JSON.stringify(state)).not.toBeNull();
      expect(after.good[settled.slot!], JSON.stringify(state)).toBe(true);
      expect(sameBootState(simulateBoot(settled.state).state, settled.state)).toBe(true);
    }
  });

  it('over every hand-written valid state, the bootloader picks a slot iff one is bootable', () => {
    for (const order of [['A', 'B'], ['B', 'A']] as const) {
      for (let a = 0; a <= 3; a++) for (let b = 0; b <= 3; b++) for (const ga of bools) for (const gb of bools) {
        const state: BootState = { order: [...order], tries: { A: a, B: b }, good: { A: ga, B: gb } };
        const outcome = simulateBoot(state);
        const anyBootable = SLOTS.some((slot) => isBootable(state, slot));
        expect(outcome.slot !== null).toBe(anyBootable);
        if (outcome.slot) {
          // The pick is the first bootable slot in order, and only a trial boot spends a try.
          expect(outcome.slot).toBe(state.order.find((slot) => isBootable(state, slot)));
          expect(outcome.state.tries[outcome.slot]).toBe(state.tries[outcome.slot] - (outcome.trial ? 1 : 0));
          expect(outcome.trial).toBe(!state.good[outcome.slot]);
        }
      }
    }
  });
});
