import { describe, expect, it } from 'vitest';
import {
  alternativeRelativeRisk,
  detectableEffect,
  haltBoundary,
  passBoundary,
  ringCapability,
  sequentialDecision,
  splitAlpha,
  type SequentialPolicy,
} from '../../rollout/sequential-test.js';

const policy: SequentialPolicy = { alpha: 0.05, beta: 0.1, minEffect: 0.03, baselineRate: 0.02 };

describe('boundaries', () => {
  it('are Wald’s ln((1−β)/α) and ln(β/(1−α))', () => {
    expect(haltBoundary(0.05, 0.1)).toBeCloseTo(Math.log(18), 12); // 2.890372
    expect(passBoundary(0.05, 0.1)).toBeCloseTo(Math.log(0.1 / 0.95), 12); // −2.251292
    expect(haltBoundary(0.0025, 0.01)).toBeCloseTo(5.981414, 6); // ln 396
    const r = sequentialDecision({ release: { observed: 10, failures: 0 }, control: { observed: 10, failures: 0 }, policy });
    expect(r.haltBoundary).toBeCloseTo(2.890372, 6);
    expect(r.passBoundary).toBeCloseTo(-2.251292, 6);
  });
});

describe('conditional binomial against a control', () => {
  it('matches the hand-computed log-likelihood ratio', () => {
    // RR = (0.02 + 0.03) / 0.02 = 2.5; equal cohorts: π0 = 1/2, π1 = 2.5/3.5 = 5/7.
    // LLR = 5·ln((5/7)/(1/2)) + 1·ln((2/7)/(1/2)) = 5·ln(10/7) + ln(4/7) = 1.223760
    const r = sequentialDecision({ release: { observed: 100, failures: 5 }, control: { observed: 100, failures: 1 }, policy });
    expect(r.method).toBe('conditional-binomial');
    expect(r.relativeRisk).toBeCloseTo(2.5, 12);
    expect(r.pi0).toBeCloseTo(0.5, 12);
    expect(r.pi1).toBeCloseTo(5 / 7, 12);
    expect(r.statistic).toBeCloseTo(5 * Math.log(10 / 7) + Math.log(4 / 7), 12);
    expect(r.statistic).toBeCloseTo(1.22376, 5);
    expect(r.decision).toBe('continue');
    expect(r.excess).toBeCloseTo(0.04, 12);
  });

  it('passes a release failing at the control’s rate', () => {
    // r = 10, RR = 2.5: π0 = 1/11, π1 = 0.2; LLR = 20·ln 2.2 + 200·ln 0.88 = −9.80
    const r = sequentialDecision({ release: { observed: 1000, failures: 20 }, control: { observed: 10_000, failures: 200 }, policy: { ...policy, alpha: 0.0025, beta: 0.05 } });
    expect(r.statistic).toBeCloseTo(20 * Math.log(2.2) + 200 * Math.log(0.88), 10);
    expect(r.decision).toBe('pass');
  });

  it('halts a large effect in a small canary', () => {
    // 10 of 50 canaries fail (20%) while the control fails at 2%.
    const r = sequentialDecision({ release: { observed: 50, failures: 10 }, control: { observed: 5000, failures: 100 }, policy: { alpha: 0.0025, beta: 0.01, minEffect: 0.18, baselineRate: 0.02 } });
    expect(r.decision).toBe('halt');
    expect(r.statistic).toBeGreaterThanOrEqual(r.haltBoundary);
    expect(r.releaseFailuresToHalt).toBe(0);
    expect(r.reason).toMatch(/^halt:/);
  });

  it('takes no evidence from zero failures and decides nothing without release devices', () => {
    const none = sequentialDecision({ release: { observed: 400, failures: 0 }, control: { observed: 4000, failures: 0 }, policy });
    expect(none.statistic).toBe(0);
    expect(none.decision).toBe('continue');
    const empty = sequentialDecision({ release: { observed: 0, failures: 0 }, control: { observed: 4000, failures: 80 }, policy });
    expect(empty.decision).toBe('continue');
    expect(empty.statistic).toBe(0);
  });

  it('says how many more release failures would halt at the current counts', () => {
    const base = { release: { observed: 200, failures: 4 }, control: { observed: 2000, failures: 40 }, policy };
    const r = sequentialDecision(base);
    const need = r.releaseFailuresToHalt!;
    expect(need).toBeGreaterThan(0);
    expect(sequentialDecision({ ...base, release: { observed: 200, failures: 4 + need } }).decision).toBe('halt');
    expect(sequentialDecision({ ...base, release: { observed: 200, failures: 4 + need - 1 } }).decision).not.toBe('halt');
  });

  it('builds the alternative on a frozen reference rate when given one', () => {
    const r = sequentialDecision({ release: { observed: 100, failures: 5 }, control: { observed: 100, failures: 1 }, policy, referenceRate: 0.03 });
    expect(r.referenceRate).toBe(0.03);
    expect(r.relativeRisk).toBeCloseTo(alternativeRelativeRisk(0.03, 0.03), 12);
    expect(r.relativeRisk).toBeCloseTo(2, 12);
  });
});

describe('one-sample fallback without a control', () => {
  it('is used when the control is absent or empty and passes at the hand-computed device count', () => {
    // Zero failures: LLR = n·ln(0.95/0.98); pass once n ≥ ln(0.1/0.95)/ln(0.95/0.98) = 72.41 → 73 devices.
    const at72 = sequentialDecision({ release: { observed: 72, failures: 0 }, control: null, policy });
    const at73 = sequentialDecision({ release: { observed: 73, failures: 0 }, control: { observed: 0, failures: 0 }, policy });
    expect(at72.method).toBe('one-sample');
    expect(at73.method).toBe('one-sample');
    expect(at72.statistic).toBeCloseTo(72 * Math.log(0.95 / 0.98), 12);
    expect(at72.decision).toBe('continue');
    expect(at73.decision).toBe('pass');
  });

  it('halts on k·ln(p1/p0) + (n−k)·ln((1−p1)/(1−p0)) ≥ ln 18', () => {
    // 4 failures in 10: 4·ln 2.5 + 6·ln(0.95/0.98) = 3.4787 ≥ 2.8904
    const r = sequentialDecision({ release: { observed: 10, failures: 4 }, policy });
    expect(r.statistic).toBeCloseTo(4 * Math.log(2.5) + 6 * Math.log(0.95 / 0.98), 12);
    expect(r.decision).toBe('halt');
    // 3 failures in 10: 3·ln 2.5 + 7·ln(0.95/0.98) = 2.531 < 2.890
    expect(sequentialDecision({ release: { observed: 10, failures: 3 }, policy }).decision).toBe('continue');
  });
});

describe('input checks', () => {
  it('refuses impossible counts and policies', () => {
    expect(() => sequentialDecision({ release: { observed: 3, failures: 4 }, policy })).toThrow(RangeError);
    expect(() => sequentialDecision({ release: { observed: 2.5, failures: 0 }, policy })).toThrow(RangeError);
    expect(() => sequentialDecision({ release: { observed: 5, failures: 0 }, control: { observed: 5, failures: -1 }, policy })).toThrow(RangeError);
    expect(() => sequentialDecision({ release: { observed: 5, failures: 0 }, policy: { ...policy, alpha: 0 } })).toThrow(/alpha/);
    expect(() => sequentialDecision({ release: { observed: 5, failures: 0 }, policy: { ...policy, baselineRate: 0 } })).toThrow(/baselineRate/);
    expect(() => sequentialDecision({ release: { observed: 5, failures: 0 }, policy: { ...policy, minEffect: 0.99 } })).toThrow(/minEffect/);
  });
});

describe('splitAlpha', () => {
  it('gives each ring × kind test its Bonferroni share', () => {
    expect(splitAlpha(0.01, 4, 5)).toBeCloseTo(0.0005, 15);
    expect(splitAlpha(0.01, 4, 1)).toBeCloseTo(0.0025, 15);
    expect(() => splitAlpha(0.01, 0, 1)).toThrow(RangeError);
    expect(() => splitAlpha(1.5, 1, 1)).toThrow(RangeError);
  });
});

describe('ringCapability', () => {
  it('gives Wald’s expected sample sizes for the one-sample test', () => {
    const c = ringCapability({ ringSize: 1000, controlRatio: 0, backgroundRate: 0.02, policy });
    const driftGood = 0.02 * Math.log(2.5) + 0.98 * Math.log(0.95 / 0.98);
    const driftBad = 0.05 * Math.log(2.5) + 0.95 * Math.log(0.95 / 0.98);
    expect(c.method).toBe('one-sample');
    expect(c.driftGood).toBeCloseTo(driftGood, 12);
    expect(c.driftBad).toBeCloseTo(driftBad, 12);
    expect(c.expectedDevicesToPass).toBeCloseTo(Math.log(0.1 / 0.95) / driftGood, 9);
    expect(c.expectedDevicesToHalt).toBeCloseTo(Math.log(18) / driftBad, 9);
    expect(c.canPass && c.canHalt && !c.tripwire).toBe(true);
    const small = ringCapability({ ringSize: c.minRingSize - 1, controlRatio: 0, backgroundRate: 0.02, policy });
    expect(small.tripwire).toBe(true);
    expect(ringCapability({ ringSize: c.minRingSize, controlRatio: 0, backgroundRate: 0.02, policy }).tripwire).toBe(false);
  });

  it('calls the example’s 5-device canary a tripwire and names the size that can decide', () => {
    // 5 canaries against the other 9,995 devices (ratio 1999), +18 points, α = 1%/4 rings, β = 1%.
    const canary = ringCapability({ ringSize: 5, controlRatio: 1999, backgroundRate: 0.02, policy: { alpha: 0.0025, beta: 0.01, minEffect: 0.18, baselineRate: 0.02 } });
    expect(canary.method).toBe('conditional-binomial');
    expect(canary.canPass).toBe(false);
    expect(canary.tripwire).toBe(true);
    // Halt needs ⌈ln 396 / ln(10·2000/2009)⌉ = ⌈5.981/2.298⌉ = 3 canary failures.
    expect(canary.minFailuresToHalt).toBe(3);
    expect(canary.minRingSize).toBeGreaterThan(20);
    expect(canary.minRingSize).toBeLessThan(60);
  });

  it('finds the smallest detectable effect for a ring', () => {
    const input = { ringSize: 900, controlRatio: 10, backgroundRate: 0.02, policy: { alpha: 0.0025, beta: 0.05, baselineRate: 0.02 } };
    const d = detectableEffect(input);
    expect(d).toBeGreaterThan(0.01);
    expect(d).toBeLessThan(0.03);
    expect(ringCapability({ ...input, policy: { ...input.policy, minEffect: d * 1.01 } }).tripwire).toBe(false);
    expect(ringCapability({ ...input, policy: { ...input.policy, minEffect: d * 0.99 } }).tripwire).toBe(true);
  });
});
