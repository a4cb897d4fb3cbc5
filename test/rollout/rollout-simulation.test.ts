import { describe, expect, it } from 'vitest';
import { naiveZ, normalCdf, normalQuantile } from '../../rollout/naive-z.js';
import { resolveRings, runSeed, simulateRollout, type SimPolicy } from '../../rollout/rollout-simulation.js';
import { planPolicy, simulateMany } from '../../rollout/simulation-plan.js';
import { good, recommended } from '../support/sim-policies.js';

/** One ring of 2,000 release devices against 18,000 control devices (ratio 9), 100 looks. */
const singleRing: SimPolicy = { ...recommended, fleetSize: 20_000, rings: [{ name: 'ring', target: 2000, mode: 'sequential', minEffect: 0.03 }] };

describe('PRNG', () => {
  it('runSeed gives distinct seeds per run', () => {
    const seeds = new Set(Array.from({ length: 1000 }, (_, i) => runSeed(7, i)));
    expect(seeds.size).toBe(1000);
  });
});

describe('helpers', () => {
  it('normal quantile and CDF invert each other', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(normalQuantile(0.99)).toBeCloseTo(2.326348, 5);
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
  });

  it('naive z is the pooled two-proportion statistic', () => {
    // 10/100 vs 100/1000: equal rates, z = 0; 20/100 vs 100/1000: pooled 120/1100.
    expect(naiveZ({ observed: 100, failures: 10 }, { observed: 1000, failures: 100 }, 0.02)).toBeCloseTo(0, 12);
    const p = 120 / 1100;
    expect(naiveZ({ observed: 100, failures: 20 }, { observed: 1000, failures: 100 }, 0.02)).toBeCloseTo(0.1 / Math.sqrt(p * (1 - p) * (1 / 100 + 1 / 1000)), 12);
  });

  it('resolves ring increments, α shares and control ratios', () => {
    const rings = resolveRings(recommended);
    expect(rings.map((r) => r.devices)).toEqual([100, 900, 1500, 7500]);
    expect(rings.map((r) => r.controlRatio)).toEqual([99, 10, 5, 0]);
    expect(rings.map((r) => r.method)).toEqual(['conditional-binomial', 'conditional-binomial', 'conditional-binomial', 'one-sample']);
    expect(rings.every((r) => Math.abs(r.alpha - 0.0025) < 1e-15)).toBe(true);
    expect(rings[0]!.beta).toBe(0.01);
    expect(rings[1]!.beta).toBe(0.05);
  });
});

describe('simulateRollout', () => {
  it('is deterministic for a seed', () => {
    const a = simulateRollout(recommended, { releaseRate: 0.05, controlRate: 0.02 }, 123);
    const b = simulateRollout(recommended, { releaseRate: 0.05, controlRate: 0.02 }, 123);
    expect(a).toEqual(b);
    const runs = [1, 2, 3, 4, 5].map((s) => JSON.stringify(simulateRollout(recommended, good, s)));
    expect(new Set(runs).size).toBeGreaterThan(1);
    expect(simulateMany(recommended, good, 50, 9)).toEqual(simulateMany(recommended, good, 50, 9));
  });

  it('halts a release that fails every device in the first poll with one poll of exposure in flight', () => {
    const run = simulateRollout(recommended, { releaseRate: 1, controlRate: 0.02 }, 1);
    expect(run.outcome).toBe('halted');
    expect(run.ring).toBe(0);
    expect(run.polls).toBe(1);
    expect(run.exposure).toBe(40); // 20 reported + 20 in flight
  });

  it('a tripwire ring applies its cap only and passes otherwise', () => {
    const tripwire: SimPolicy = { ...recommended, rings: [{ name: 'canary', target: 5, mode: 'tripwire', maxFailures: 1 }, ...recommended.rings.slice(1)] };
    const bad = simulateRollout(tripwire, { releaseRate: 1, controlRate: 0.02 }, 1);
    expect(bad.outcome).toBe('halted');
    expect(bad.rings[0]).toMatchObject({ decision: 'halt', by: 'cap', releaseFailures: 5 });
    const clean = simulateRollout(tripwire, { releaseRate: 0, controlRate: 0 }, 1);
    expect(clean.rings[0]).toMatchObject({ decision: 'pass', by: 'end', releaseObserved: 5 });
  });
});

describe('error rates under repeated looks (seeded)', () => {
  // 2,000 runs: the s.e. of a 1% rate is 0.22 points; slack = 3 s.e.
  it('SPRT false halts stay within α at every poll; a fixed-sample z test re-checked at every poll does not', () => {
    const sprt = simulateMany(singleRing, good, 2000, 11);
    const naive = simulateMany({ ...singleRing, rule: 'naive' }, good, 2000, 11);
    expect(sprt.meanPolls).toBeGreaterThan(5); // the test really looks many times
    expect(sprt.halted).toBeLessThanOrEqual(0.01 + 0.0067);
    expect(naive.halted).toBeGreaterThan(0.05);
  });

  it('holds with a small control (ratio 1) and without any control (one-sample)', () => {
    const ratio1: SimPolicy = { ...singleRing, fleetSize: 2000, reportsPerPoll: 10, rings: [{ name: 'ring', target: 1000, mode: 'sequential', minEffect: 0.03, onUndecided: 'pass' }] };
    const oneSample: SimPolicy = { ...singleRing, fleetSize: 2000, rings: [{ name: 'ring', target: 2000, mode: 'sequential', minEffect: 0.03 }] };
    expect(simulateMany(ratio1, good, 2000, 12).halted).toBeLessThanOrEqual(0.0167);
    expect(simulateMany(oneSample, good, 2000, 13).halted).toBeLessThanOrEqual(0.0167);
    expect(simulateMany({ ...oneSample, rule: 'naive' }, good, 2000, 13).halted).toBeGreaterThan(0.05);
  });

  it('has power ≥ 1−β at the stated effect', () => {
    // 3,000 release devices against 27,000 control; release 5% vs control 2% (+3 points). 1,000 runs: s.e. 0.7 points.
    const ring: SimPolicy = { ...singleRing, fleetSize: 30_000, rings: [{ name: 'ring', target: 3000, mode: 'sequential', minEffect: 0.03 }] };
    const bad = simulateMany(ring, { releaseRate: 0.05, controlRate: 0.02 }, 1000, 14);
    expect(bad.halted).toBeGreaterThanOrEqual(0.95 - 0.021);
    expect(simulateMany(ring, good, 1000, 15).completed).toBeGreaterThanOrEqual(0.98);
  });
});

describe('the recommended 4-ring policy on 10,000 devices at 2% noise', () => {
  it('completes a good release, halts +18 points in the canary and +3 points before the last ring', () => {
    const runs = 500;
    const ok = simulateMany(recommended, good, runs, 21);
    expect(ok.completed).toBeGreaterThanOrEqual(0.985);
    const gross = simulateMany(recommended, { releaseRate: 0.2, controlRate: 0.02 }, runs, 22);
    expect(gross.haltedInRing[0]).toBeGreaterThanOrEqual(0.99);
    const subtle = simulateMany(recommended, { releaseRate: 0.05, controlRate: 0.02 }, runs, 23);
    expect(subtle.haltedBeforeLastRing).toBeGreaterThanOrEqual(0.97);
  });
});

describe('planPolicy', () => {
  it('reports per-ring figures and names the minimum size of a ring that cannot decide', () => {
    const tooSmall: SimPolicy = { ...recommended, rings: [{ name: 'canary', target: 5, mode: 'sequential', minEffect: 0.18, beta: 0.01 }, ...recommended.rings.slice(1)] };
    const plan = planPolicy(tooSmall, { noise: 0.02, runs: 100, seed: 1 });
    expect(plan.rings).toHaveLength(4);
    expect(plan.bad.map((b) => b.releaseRate)).toEqual([0.05, 0.2].map((x) => expect.closeTo(x, 12)));
    const canary = plan.rings[0]!;
    expect(canary.capability!.tripwire).toBe(true);
    expect(plan.problems[0]).toMatch(new RegExp(`ring canary \\(5 devices\\) cannot reach pass .*needs at least ${canary.capability!.minRingSize} devices`));
    // A 5-device canary can never pass sequentially: every good run is left inconclusive there.
    expect(canary.inconclusive).toBe(1);
    expect(plan.rings[1]!.detectableEffect!).toBeLessThan(0.03);
    expect(plan.rings[3]!.method).toBe('one-sample');
  });
});
