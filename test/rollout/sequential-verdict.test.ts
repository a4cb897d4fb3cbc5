// The sequential statistics mode: its policy schema and the ring verdict it gives (pure).
import { describe, expect, it } from 'vitest';
import { parsePolicy, PolicyError, type RingPolicy, type RolloutStatistics } from '../../rollout/policy.js';
import { ringVerdict, sequentialRingCount, type RingHealth } from '../../rollout/verdict.js';

const ringData = (over: Record<string, unknown> = {}) => ({
  name: 'early',
  size: { percent: 100 },
  bakeTime: '10m',
  minReports: 10,
  thresholds: { failureRate: 0.5, maxFailures: 1000 },
  onBreach: 'halt',
  decisionDeadline: '1d',
  ...over,
});
const sequential = { mode: 'sequential', alpha: 0.01, beta: 0.05, minEffect: 0.03, baselineRate: 0.02 };
const policyData = (over: Record<string, unknown> = {}) => ({
  target: { hardware: 'gw-x1' },
  rings: [ringData()],
  statistics: sequential,
  exposureBudget: { percent: 100 },
  maxConcurrentInstalls: 10,
  ...over,
});

const errorOf = (data: unknown): string => {
  try {
    parsePolicy(data);
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyError);
    return (err as Error).message;
  }
  throw new Error('expected the policy to be refused');
};

describe('sequential statistics in the policy', () => {
  it('parses, defaults the health error limit to 4, and leaves simple / wilson as they were', () => {
    const p = parsePolicy(policyData());
    expect(p.statistics).toEqual(sequential);
    expect(p.healthErrorLimit).toBe(4);
    expect(parsePolicy(policyData({ statistics: undefined })).statistics).toEqual({ mode: 'simple', confidence: 0.95 });
    expect(parsePolicy(policyData({ statistics: { confidence: 0.9 } })).statistics).toEqual({ mode: 'simple', confidence: 0.9 });
    expect(parsePolicy(policyData({ statistics: { mode: 'wilson' } })).statistics).toEqual({ mode: 'wilson', confidence: 0.95 });
  });

  it('refuses with the field named: unknown mode, missing or impossible parameters, stray keys', () => {
    expect(errorOf(policyData({ statistics: { mode: 'sprt' } }))).toMatch(/statistics.*mode must be simple, wilson or sequential/);
    expect(errorOf(policyData({ statistics: { mode: 'sequential', alpha: 0.01 } }))).toMatch(/statistics\.beta/);
    expect(errorOf(policyData({ statistics: { ...sequential, alpha: 0.7 } }))).toMatch(/statistics\.alpha/);
    expect(errorOf(policyData({ statistics: { ...sequential, confidence: 0.9 } }))).toMatch(/confidence/);
    expect(errorOf(policyData({ statistics: { mode: 'wilson', alpha: 0.01 } }))).toMatch(/alpha/);
    expect(errorOf(policyData({ statistics: { ...sequential, baselineRate: 0.9, minEffect: 0.2 } }))).toMatch(/baselineRate \+ minEffect must be below 1/);
  });

  it('needs a decision deadline per ring (not shorter than the bake), one ring that is not a tripwire; tripwire / minEffect only when sequential', () => {
    expect(errorOf(policyData({ rings: [ringData({ decisionDeadline: undefined })] }))).toMatch(/rings\[0\]\.decisionDeadline: required with sequential statistics/);
    expect(errorOf(policyData({ rings: [ringData({ decisionDeadline: '5m' })] }))).toMatch(/rings\[0\]\.decisionDeadline: must not be shorter than the bake time/);
    // A ring that could pass before its bricked devices time out is refused.
    expect(errorOf(policyData({ rings: [ringData({ installDeadline: '20m' })] }))).toMatch(/rings\[0\]\.installDeadline: must not be longer than the bake time \(20m > 10m\): the ring could pass before its bricked devices time out/);
    expect(() => parsePolicy(policyData({ rings: [ringData({ installDeadline: '10m' })] }))).not.toThrow();
    expect(errorOf(policyData({ rings: [ringData({ tripwire: true })] }))).toMatch(/at least one ring that is not a tripwire/);
    expect(errorOf(policyData({ statistics: { mode: 'wilson' }, rings: [ringData({ tripwire: true })] }))).toMatch(/rings\[0\]\.tripwire: tripwire applies only with statistics.mode sequential/);
    expect(errorOf(policyData({ statistics: { mode: 'simple' }, rings: [ringData({ minEffect: 0.1 })] }))).toMatch(/rings\[0\]\.minEffect/);
    expect(errorOf(policyData({ healthErrorLimit: 0 }))).toMatch(/healthErrorLimit/);
    const p = parsePolicy(policyData({ rings: [ringData({ name: 'canary', size: { count: 5 }, tripwire: true }), ringData({ minEffect: 0.05, beta: 0.01 })] }));
    expect(sequentialRingCount(p.rings)).toBe(1);
    expect(p.rings[1]).toMatchObject({ minEffect: 0.05, beta: 0.01, decisionDeadline: '1d' });
  });
});

const health = (reported: number, failed: number, over: Partial<RingHealth> = {}): RingHealth => ({ assigned: 1000, reported, committed: reported - failed, failed, failuresByKind: {}, ...over });

function verdictFor(h: RingHealth, over: { ring?: Partial<RingPolicy>; testPassed?: boolean; bakedMs?: number; sequentialRings?: number; statistics?: RolloutStatistics } = {}) {
  const policy = parsePolicy(policyData());
  return ringVerdict({
    ring: { ...policy.rings[0]!, ...over.ring },
    health: h,
    bakedMs: over.bakedMs ?? 3_600_000,
    bakeTimeMs: 600_000,
    statistics: over.statistics ?? policy.statistics,
    sequentialRings: over.sequentialRings,
    testPassed: over.testPassed,
  });
}

describe('sequential ring verdict (one-sample against baselineRate: no control cohort given)', () => {
  // α 1%, β 5%, 2% → 5%: halt at LLR ≥ ln(0.95/0.01) = 4.554, pass at ≤ ln(0.05/0.99) = −2.986;
  // a failure adds ln(0.05/0.02) = 0.916, a success ln(0.95/0.98) = −0.0311.
  it('passes a clean ring once the LLR reaches the pass boundary (97 clean reports), not before', () => {
    const early = verdictFor(health(96, 0));
    expect(early.verdict).toBe('wait');
    expect(early.reason).toMatch(/undecided/);
    expect(early.figures.sequential).toMatchObject({ decision: 'continue', method: 'one-sample', alpha: 0.01, beta: 0.05, minEffect: 0.03, referenceRate: 0.02, passed: false });
    expect(early.figures.sequential!.haltBoundary).toBeCloseTo(Math.log(0.95 / 0.01), 9);
    expect(early.figures.sequential!.passBoundary).toBeCloseTo(Math.log(0.05 / 0.99), 9);
    const done = verdictFor(health(97, 0));
    expect(done.verdict).toBe('pass');
    expect(done.figures.sequential).toMatchObject({ decision: 'pass', passed: true });
  });

  it('halts at the halt boundary: 5 failures of the first 5 reports, not 4 of 4', () => {
    expect(verdictFor(health(4, 4)).verdict).toBe('wait');
    expect(verdictFor(health(4, 4)).figures.sequential!.releaseFailuresToHalt).toBe(1);
    const halted = verdictFor(health(5, 5));
    expect(halted.verdict).toBe('breach');
    expect(halted.reason).toMatch(/^sequential test \(\+3\.0 pt\): halt/);
  });

  it('splits α over the sequential rings: the halt boundary rises with their number', () => {
    const one = verdictFor(health(50, 2)).figures.sequential!;
    const three = verdictFor(health(50, 2), { sequentialRings: 3 }).figures.sequential!;
    expect(three.alpha).toBeCloseTo(0.01 / 3, 12);
    expect(three.haltBoundary - one.haltBoundary).toBeCloseTo(Math.log(3), 9);
  });

  it('keeps a pass reached at an earlier look; still waits for minReports and the bake time', () => {
    const later = verdictFor(health(120, 3), { testPassed: true });
    expect(later.figures.sequential).toMatchObject({ decision: 'continue', passed: true });
    expect(later.verdict).toBe('pass');
    expect(later.reason).toMatch(/at an earlier look/);
    expect(verdictFor(health(97, 0), { bakedMs: 60_000 }).reason).toMatch(/test passed; baking/);
    expect(verdictFor(health(97, 0), { ring: { minReports: 200 } }).reason).toMatch(/test passed; 97 of the 200 reports needed/);
  });

  it('absolute caps stay a safety net: counts at once, rates once minReports reported', () => {
    expect(verdictFor(health(20, 2, { failuresByKind: { boot: 1 } }), { ring: { thresholds: { failureRate: 0.5, maxFailures: 100, perKind: { boot: { count: 0 } } } } }).reason).toMatch(/1 boot failures, more than the 0 allowed/);
    expect(verdictFor(health(10, 3), { ring: { thresholds: { failureRate: 0.25, maxFailures: 100, perKind: {} } } }).reason).toMatch(/above the cap of 25%/);
    expect(verdictFor(health(5, 2), { ring: { thresholds: { failureRate: 0.25, maxFailures: 100, perKind: {} } } }).verdict).toBe('wait');
  });

  it('a tripwire ring applies its absolute thresholds only (no test), like simple mode', () => {
    const ring = { tripwire: true, minReports: 5, thresholds: { failureRate: 0.5, maxFailures: 1, perKind: {} } };
    const ok = verdictFor(health(5, 1, { assigned: 5 }), { ring });
    expect(ok.verdict).toBe('pass');
    expect(ok.figures.sequential).toBeUndefined();
    expect(verdictFor(health(3, 2, { assigned: 5 }), { ring }).verdict).toBe('breach');
  });
});
