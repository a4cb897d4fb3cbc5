// The control cohort in the ring verdict (pure): with control counts from heartbeats the
// sequential mode runs the conditional-binomial SPRT against the control; without them it keeps
// the one-sample test against baselineRate. The next step hands the control of a health read on.
import { describe, expect, it } from 'vitest';
import { parsePolicy, silentAfterSeconds } from '../../rollout/policy.js';
import type { RolloutPlan, RolloutRequest } from '../../rollout/types.js';
import { frozenReferenceRate, REFERENCE_MIN_FAILURES, ringVerdict, type RingHealth } from '../../rollout/verdict.js';
import { wilsonInterval } from '../../rollout/wilson.js';
import { RolloutDrive } from '../support/rollout-drive.js';

const T0 = Date.UTC(2030, 0, 7, 12, 0, 0);
const policy = parsePolicy({
  target: { hardware: 'gw-x1' },
  rings: [
    { name: 'canary', size: { count: 200 }, bakeTime: '10m', minReports: 10, thresholds: { failureRate: 0.5, maxFailures: 1000 }, onBreach: 'halt', decisionDeadline: '1d' },
    { name: 'fleet', size: { percent: 100 }, bakeTime: '10m', minReports: 10, thresholds: { failureRate: 0.5, maxFailures: 1000 }, onBreach: 'halt', decisionDeadline: '1d' },
  ],
  // α 1% over one ring here, β 5%, +3 pt over 2%: RR = 2.5; halt at ln(0.95/0.01) = 4.554, pass at ln(0.05/0.99) = −2.986.
  statistics: { mode: 'sequential', alpha: 0.01, beta: 0.05, minEffect: 0.03, baselineRate: 0.02 },
  exposureBudget: { percent: 100 },
  maxConcurrentInstalls: 10,
  pollInterval: '1m',
});

const health = (reported: number, failed: number, over: Partial<RingHealth> = {}): RingHealth => ({ assigned: 1000, reported, committed: reported - failed, failed, failuresByKind: {}, ...over });
const verdict = (h: RingHealth, control?: { observed: number; failures: number } | null) =>
  ringVerdict({ ring: policy.rings[0]!, health: h, bakedMs: 3_600_000, bakeTimeMs: 600_000, statistics: policy.statistics, sequentialRings: 1, ...(control !== undefined ? { control } : {}) });

describe('ring verdict against a control cohort', () => {
  it('a noisy week moves both cohorts: one-sample halts a good release, the control test passes it', () => {
    // 6% background everywhere: 12 of 200 release devices, 120 of 2,000 control devices.
    const alone = verdict(health(200, 12));
    expect(alone.figures.sequential).toMatchObject({ method: 'one-sample', decision: 'halt', control: null });
    expect(alone.verdict).toBe('breach');
    // r = 10: π0 = 1/11, π1 = 2.5/12.5; Λ = 12·ln 2.2 + 120·ln 0.88 = −5.87 ≤ −2.986.
    const compared = verdict(health(200, 12, { control: { observed: 2000, failures: 120 } }));
    expect(compared.figures.sequential).toMatchObject({ method: 'conditional-binomial', decision: 'pass', release: { observed: 200, failures: 12 }, control: { observed: 2000, failures: 120 } });
    expect(compared.figures.sequential!.statistic).toBeCloseTo(12 * Math.log(2.2) + 120 * Math.log(0.88), 9);
    expect(compared.verdict).toBe('pass');
  });

  it('a release worse than a quiet control halts where one-sample is still undecided', () => {
    // 8 of 100 against 2 of 1,000: Λ = 8·ln 2.2 + 2·ln 0.88 = 6.05 ≥ 4.554; one-sample: 8·0.916 − 92·0.0311 = 4.47.
    expect(verdict(health(100, 8)).figures.sequential!.decision).toBe('continue');
    const halted = verdict(health(100, 8, { control: { observed: 1000, failures: 2 } }));
    expect(halted.verdict).toBe('breach');
    expect(halted.reason).toMatch(/halt: release failing more than control 0\.20% \(2\/1000\)/);
  });

  it('post-commit failures from heartbeats count with the install failures (capped at the reported devices)', () => {
    const h = health(100, 0, { postCommitFailed: 8, control: { observed: 1000, failures: 2 } });
    const v = verdict(h);
    expect(v.figures.sequential).toMatchObject({ release: { observed: 100, failures: 8 }, decision: 'halt' });
    expect(verdict(health(5, 3, { postCommitFailed: 9 })).figures.sequential!.release).toEqual({ observed: 5, failures: 5 });
  });

  it('an empty control or none keeps the one-sample test; an explicit control overrides the health read', () => {
    expect(verdict(health(100, 8, { control: { observed: 0, failures: 0 } })).figures.sequential).toMatchObject({ method: 'one-sample', control: null });
    expect(verdict(health(100, 8, { control: { observed: 1000, failures: 2 } }), null).figures.sequential!.method).toBe('one-sample');
    expect(verdict(health(100, 8), { observed: 1000, failures: 2 }).figures.sequential!.method).toBe('conditional-binomial');
  });

  it('with heartbeats read but none from the ring yet, install outcomes never pass it against the control; a halt still does', () => {
    // The noisy-week numbers pass when heartbeats were not read at all (first case above) ...
    const waiting = verdict(health(200, 12, { control: { observed: 2000, failures: 120 }, heartbeats: { observed: 0, failures: 0 } }));
    expect(waiting.verdict).toBe('wait');
    expect(waiting.reason).toMatch(/waiting for post-commit heartbeats from the ring \(the control has 2000 heartbeat windows\)/);
    expect(waiting.figures.sequential).toMatchObject({ decision: 'pass' });
    // ... while install failures far above a quiet control still halt.
    expect(verdict(health(100, 8, { control: { observed: 1000, failures: 2 }, heartbeats: { observed: 0, failures: 0 } })).verdict).toBe('breach');
  });

  it('simple and wilson modes ignore the control', () => {
    const simple = ringVerdict({ ring: policy.rings[0]!, health: health(100, 8, { control: { observed: 1000, failures: 2 } }), bakedMs: 3_600_000, bakeTimeMs: 600_000, statistics: { mode: 'simple', confidence: 0.95 } });
    expect(simple.figures.sequential).toBeUndefined();
    expect(simple.verdict).toBe('pass');
  });
});

describe('with heartbeats on both sides: post-commit health vs control, install outcomes one-sample', () => {
  // α 1% over 1 ring × 2 tests = 0.5%: halt at ln(0.95/0.005) = 5.247, pass at ln(0.05/0.995) = −2.991.
  const both = (h: RingHealth, testsPassed?: { install?: boolean; postCommit?: boolean }) =>
    ringVerdict({ ring: policy.rings[0]!, health: h, bakedMs: 3_600_000, bakeTimeMs: 600_000, statistics: policy.statistics, sequentialRings: 1, testsPassed });

  it('compares like with like: install failures are not held against a control that installs nothing', () => {
    // Install noise at baselineRate (2%), a bad week of 6% post-commit noise everywhere: both tests pass.
    const v = both(health(300, 6, { heartbeats: { observed: 288, failures: 17 }, control: { observed: 2880, failures: 173 } }));
    expect(v.figures.sequential).toMatchObject({ method: 'conditional-binomial', release: { observed: 288, failures: 17 }, control: { observed: 2880, failures: 173 } });
    expect(v.figures.sequential!.alpha).toBeCloseTo(0.005, 12);
    expect(v.figures.installTest).toMatchObject({ method: 'one-sample', release: { observed: 300, failures: 6 } });
    expect(v.figures.testsPassed).toEqual({ install: true, postCommit: true });
    expect(v.verdict).toBe('pass');
  });

  it('halts on post-commit health worse than the control, naming the test', () => {
    const v = both(health(100, 0, { heartbeats: { observed: 100, failures: 10 }, control: { observed: 1000, failures: 10 } }));
    expect(v.verdict).toBe('breach');
    expect(v.reason).toMatch(/post-commit health vs control: halt/);
  });

  it('a control with no failure (the conditional test would never decide) becomes a cautious yardstick', () => {
    // A healthy fleet: nobody fails after commit. The conditional test has nothing to learn from.
    const quiet = { observed: 2000, failures: 0 };
    const v = both(health(300, 0, { heartbeats: { observed: 300, failures: 0 }, control: quiet }));
    expect(v.figures.sequential).toMatchObject({ method: 'one-sample', referenceRate: 0.02, control: null, decision: 'pass', yardstick: 'a quiet control' });
    expect(v.verdict).toBe('pass');
    // A release that crash-loops against that quiet control still halts.
    const bad = both(health(100, 0, { heartbeats: { observed: 100, failures: 15 }, control: quiet }));
    expect(bad.verdict).toBe('breach');
    expect(bad.reason).toMatch(/post-commit health vs a quiet control: halt/);
    // The yardstick is the quiet control's upper bound when that is above baselineRate (a small control).
    const small = both(health(300, 0, { heartbeats: { observed: 300, failures: 3 }, control: { observed: 40, failures: 0 } }));
    expect(small.figures.sequential!.referenceRate).toBeCloseTo(wilsonInterval(0, 40, 0.95).upper, 12);
    // One control failure and the comparison is back.
    expect(both(health(300, 0, { heartbeats: { observed: 300, failures: 3 }, control: { observed: 2000, failures: 1 } })).figures.sequential).toMatchObject({ method: 'conditional-binomial', yardstick: 'control' });
  });

  it('halts on install failures by the one-sample test even when post-commit health is fine', () => {
    const v = both(health(20, 8, { heartbeats: { observed: 12, failures: 0 }, control: { observed: 1000, failures: 20 } }));
    expect(v.verdict).toBe('breach');
    expect(v.reason).toMatch(/install outcomes: halt/);
  });

  it('waits until both tests passed; a pass of one is kept from an earlier look', () => {
    const h = health(200, 2, { heartbeats: { observed: 5, failures: 0 }, control: { observed: 1000, failures: 20 } });
    const first = both(h);
    expect(first.figures.testsPassed).toEqual({ install: true, postCommit: false });
    expect(first.verdict).toBe('wait');
    expect(first.reason).toMatch(/undecided: post-commit health/);
    const later = both(health(200, 2, { heartbeats: { observed: 200, failures: 1 }, control: { observed: 1000, failures: 40 } }), { install: true });
    expect(later.figures.testsPassed).toEqual({ install: true, postCommit: true });
    expect(later.verdict).toBe('pass');
  });
});

describe('next step: the control of a health read reaches the verdict', () => {
  const request: RolloutRequest = { rolloutId: 'r1', hardwareId: 'gw-x1', channel: 'stable', releaseVersion: '1.1.0', policy, requestedBy: 'test' };
  const plan: RolloutPlan = { fleetSize: 1000, ringSizes: [200, 800], exposureBudget: 1000, previousVersion: '1.0.0', rollbackAllowed: true };

  it('halts the canary on the conditional-binomial test and records the cohorts in the figures', () => {
    const d = new RolloutDrive(request, T0);
    d.see({ kind: 'started' });
    d.see({ kind: 'planned', plan });
    d.see({ kind: 'ring-opened' });
    expect(d.see({ kind: 'woke' }, 60_000).next).toEqual({ kind: 'read-health', ring: 'canary' });
    const step = d.see({ kind: 'health', health: health(100, 8, { assigned: 200, control: { observed: 1000, failures: 2 } }) }, 600_000);
    expect(d.commandKinds()).toEqual(['halt', 'record:halt']);
    expect(step.progress.rings[0]!.verdict!.figures.sequential).toMatchObject({ method: 'conditional-binomial', control: { observed: 1000, failures: 2 } });
  });

  it('passes the canary through background noise shared with the control', () => {
    const d = new RolloutDrive(request, T0);
    d.see({ kind: 'started' });
    d.see({ kind: 'planned', plan });
    d.see({ kind: 'ring-opened' });
    d.see({ kind: 'woke' }, 60_000);
    d.see({ kind: 'health', health: health(200, 12, { assigned: 200, control: { observed: 800, failures: 48 } }) }, 600_000);
    expect(d.progress.rings[0]!.state).toBe('passed');
    expect(d.progress.ringIndex).toBe(1);
  });
});

describe('no control left: post-commit health against the rate earlier controls showed', () => {
  // The last ring once everyone moved: 2% install noise, 6% post-commit noise, no control any more.
  const lastRing = health(800, 16, { heartbeats: { observed: 780, failures: 47 }, postCommitFailed: 47, control: null });
  const judge = (postCommitReferenceRate?: number) =>
    ringVerdict({ ring: policy.rings[1]!, health: lastRing, bakedMs: 3_600_000, bakeTimeMs: 600_000, statistics: policy.statistics, sequentialRings: 1, postCommitReferenceRate });

  it('mixing post-commit failures into the install test against baselineRate halts a good release', () => {
    const mixed = judge(undefined);
    expect(mixed.figures.sequential).toMatchObject({ method: 'one-sample', release: { observed: 800, failures: 63 } });
    expect(mixed.verdict).toBe('breach');
  });

  it('tested apart, each against its own yardstick, the same ring passes', () => {
    const apart = judge(0.06);
    expect(apart.figures.sequential).toMatchObject({ method: 'one-sample', referenceRate: 0.06, release: { observed: 780, failures: 47 }, control: null });
    expect(apart.figures.installTest).toMatchObject({ method: 'one-sample', referenceRate: 0.02, release: { observed: 800, failures: 16 } });
    expect(apart.verdict).toBe('pass');
    // The same post-commit failures well above what the controls showed still halt.
    const worse = ringVerdict({ ring: policy.rings[1]!, health: { ...lastRing, heartbeats: { observed: 780, failures: 110 } }, bakedMs: 3_600_000, bakeTimeMs: 600_000, statistics: policy.statistics, sequentialRings: 1, postCommitReferenceRate: 0.06 });
    expect(worse.verdict).toBe('breach');
    expect(worse.reason).toMatch(/post-commit health vs earlier controls: halt/);
  });

  it('freezes the pooled control rate only once it holds enough failures', () => {
    expect(frozenReferenceRate(undefined, 0.02, 0.03)).toBe(0.02);
    expect(frozenReferenceRate({ observed: 500, failures: REFERENCE_MIN_FAILURES - 1 }, 0.02, 0.03)).toBe(0.02);
    // 48 of 800 = 6%: its upper 95% Wilson bound, so a low estimate cannot make the test trigger-happy.
    expect(frozenReferenceRate({ observed: 800, failures: 48 }, 0.02, 0.03)).toBeCloseTo(wilsonInterval(48, 800, 0.95).upper, 12);
    expect(wilsonInterval(48, 800, 0.95).upper).toBeGreaterThan(0.06);
    // Never below the policy's baselineRate.
    expect(frozenReferenceRate({ observed: 100_000, failures: 500 }, 0.02, 0.03)).toBe(0.02);
    expect(frozenReferenceRate({ observed: 100, failures: 99 }, 0.02, 0.18)).toBeLessThan(0.82);
  });

  it('the next step pools the control of a passed ring and freezes it when the next ring opens', () => {
    const request: RolloutRequest = { rolloutId: 'r2', hardwareId: 'gw-x1', channel: 'stable', releaseVersion: '1.1.0', policy, requestedBy: 'test' };
    const plan: RolloutPlan = { fleetSize: 1000, ringSizes: [200, 800], exposureBudget: 1000, previousVersion: '1.0.0', rollbackAllowed: true };
    const d = new RolloutDrive(request, T0);
    d.see({ kind: 'started' });
    d.see({ kind: 'planned', plan });
    d.see({ kind: 'ring-opened' });
    expect(d.progress.rings[0]!.postCommitReference).toBe(0.02);
    d.see({ kind: 'woke' }, 60_000);
    d.see({ kind: 'health', health: health(200, 1, { assigned: 200, heartbeats: { observed: 200, failures: 4 }, control: { observed: 800, failures: 48 } }) }, 600_000);
    expect(d.progress.rings[0]!.state).toBe('passed');
    expect(d.progress.controlPool).toEqual({ observed: 800, failures: 48 });
    expect(d.last.next).toEqual({ kind: 'open-ring', ring: 'fleet' });
    d.see({ kind: 'ring-opened' });
    expect(d.progress.rings[1]!.postCommitReference).toBeCloseTo(wilsonInterval(48, 800, 0.95).upper, 12);
    d.see({ kind: 'woke' }, 60_000);
    d.see({ kind: 'health', health: { ...lastRing, assigned: 800 } }, 600_000);
    expect(d.progress.rings[1]!.verdict!.figures.sequential!.referenceRate).toBeCloseTo(wilsonInterval(48, 800, 0.95).upper, 12);
    expect(d.progress.state).toBe('completed');
  });
});

describe('silent devices', () => {
  it('a policy caps silent devices like any reported kind, and silentAfter parses as a duration', () => {
    const capped = parsePolicy({
      target: { hardware: 'gw-x1' },
      rings: [{ name: 'canary', size: { count: 100 }, bakeTime: '10m', minReports: 10, thresholds: { failureRate: 0.5, maxFailures: 1000, perKind: { silent: { count: 2 } } }, onBreach: 'halt', decisionDeadline: '1d' }],
      statistics: { mode: 'sequential', alpha: 0.01, beta: 0.05, minEffect: 0.03, baselineRate: 0.02 },
      exposureBudget: { percent: 100 },
      maxConcurrentInstalls: 10,
      silentAfter: '15m',
    });
    expect(silentAfterSeconds(capped)).toBe(900);
    expect(silentAfterSeconds(policy)).toBeUndefined();
    const v = ringVerdict({ ring: capped.rings[0]!, health: health(50, 0, { failuresByKind: { silent: 3 } }), bakedMs: 0, bakeTimeMs: 600_000, statistics: capped.statistics });
    expect(v.verdict).toBe('breach');
    expect(v.reason).toBe('3 silent failures, more than the 2 allowed');
    expect(() => parsePolicy({ ...capped, silentAfter: 'soon' })).toThrow(/silentAfter/);
  });
});
