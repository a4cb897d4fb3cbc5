// Silent and bricking devices, bake time, decision and install deadlines, and the control cohort
// as the workflow uses it, in the seeded simulation (rollout/rollout-simulation.ts). Fixed seeds.
import { describe, expect, it } from 'vitest';
import { resolveRings, simulateRollout, type SimPolicy, type SimRing } from '../../rollout/rollout-simulation.js';
import { simulateMany } from '../../rollout/simulation-plan.js';
import { good, recommended } from '../support/sim-policies.js';

const oneRing = (ring: Partial<SimRing>, policy: Partial<SimPolicy> = {}): SimPolicy => ({
  ...recommended,
  fleetSize: 2000,
  ...policy,
  rings: [{ name: 'ring', target: 200, mode: 'sequential', minEffect: 0.18, ...ring }],
});

describe('zero shares keep the figures of the simulation before silent and bricking devices', () => {
  it('gives the figures measured before the change (bench recommended and example-shape, seed 1)', () => {
    const before = simulateMany(recommended, good, 1000, 1);
    expect(before).toMatchObject({ completed: 0.996, haltedInRing: [0, 0.002, 0, 0.002], meanPolls: 52.955, meanExposureWhenHalted: 1820, maxExposureWhenHalted: 2900 });
    expect(simulateMany(recommended, { ...good, silentShare: 0, brickShare: 0, postCommitRate: 0.02 }, 1000, 1)).toEqual(before);
    const exampleShape: SimPolicy = { ...recommended, rings: [{ name: 'canary', target: 5, mode: 'tripwire', maxFailures: 1 }, { name: 'early', target: 2500, mode: 'sequential', minEffect: 0.03, onUndecided: 'pass' }, { name: 'fleet', target: 10_000, mode: 'sequential', minEffect: 0.03 }] };
    expect(simulateMany(exampleShape, { releaseRate: 0.2, controlRate: 0.02 }, 1000, 1 + 7919 * 2)).toMatchObject({ haltedInRing: [0.266, 0.734, 0], meanPolls: 3.384, meanExposureWhenHalted: 67.36, maxExposureWhenHalted: 165 });
  });
});

describe('silent devices', () => {
  it('are never offered: a ring that cannot get its reports ends undecided at its deadline, no later', () => {
    const policy = oneRing({ minReports: 200, deadlinePolls: 50 });
    const run = simulateRollout(policy, { ...good, silentShare: 0.1 }, 3);
    expect(run.rings[0]!.silent).toBeGreaterThan(0);
    expect(run.rings[0]!.releaseObserved).toBe(200 - run.rings[0]!.silent);
    expect(run).toMatchObject({ outcome: 'inconclusive', polls: 50, exposure: 200 - run.rings[0]!.silent, rings: [{ decision: 'inconclusive', by: 'deadline', polls: 50 }] });
    // atDeadline: pass lets it through at the same poll.
    const passing = simulateRollout(oneRing({ minReports: 200, deadlinePolls: 50, onUndecided: 'pass' }), { ...good, silentShare: 0.1 }, 3);
    expect(passing).toMatchObject({ outcome: 'completed', rings: [{ decision: 'pass', by: 'deadline', polls: 50 }] });
    // Without silent devices the same ring fills and decides by its test.
    expect(simulateRollout(policy, good, 3).rings[0]!.by).toBe('test');
  });

  it('a ring whose devices are all silent waits for its deadline and exposes nobody', () => {
    const run = simulateRollout(oneRing({ target: 3, deadlinePolls: 1440 }), { ...good, silentShare: 0.999 }, 5);
    expect(run).toMatchObject({ outcome: 'inconclusive', exposure: 0, rings: [{ silent: 3, releaseObserved: 0, by: 'deadline', polls: 1440 }] });
  });

  it('10% silent on the 4-ring policy: rings end by their deadline at most, and a good release still completes', () => {
    const withDeadlines: SimPolicy = { ...recommended, rings: recommended.rings.map((r) => ({ ...r, deadlinePolls: 1440 })) };
    const s = simulateMany(withDeadlines, { ...good, silentShare: 0.1 }, 300, 31);
    expect(s.completed).toBeGreaterThanOrEqual(0.98);
    expect(s.longestWaitVsDeadline).toBeLessThanOrEqual(1);
    expect(s.ringsEntered).toBeGreaterThanOrEqual(300 * 3);
  });
});

describe('bricking devices', () => {
  it('count as timed-out failures timeoutPolls after their offer, and halt like reported failures', () => {
    const policy = oneRing({ timeoutPolls: 30, bakePolls: 120 });
    const bricking = simulateRollout(policy, { releaseRate: 0, controlRate: 0.02, brickShare: 0.5 }, 7);
    const ring = bricking.rings[0]!;
    expect(bricking.outcome).toBe('halted');
    expect(ring.timedOut).toBeGreaterThan(0);
    expect(ring.releaseFailures).toBe(ring.timedOut); // no other failure: every one is a timeout
    expect(ring.polls).toBeGreaterThan(30); // none before the first deadline passed
    // No install deadline: bricked devices are never counted and the release passes.
    const unseen = simulateRollout(oneRing({ bakePolls: 120 }), { releaseRate: 0, controlRate: 0.02, brickShare: 0.5 }, 7);
    expect(unseen).toMatchObject({ outcome: 'completed', rings: [{ timedOut: 0, releaseFailures: 0 }] });
    expect(unseen.rings[0]!.releaseObserved).toBeLessThan(200);
  });

  it('a canary that bakes longer than the install deadline halts a 20%-bricking release as surely as a 20%-failing one', () => {
    const rings = recommended.rings.map((r, i) => ({ ...r, timeoutPolls: 60, bakePolls: i === 0 ? 120 : 1440, deadlinePolls: i === 0 ? 1440 : 4320 }));
    const policy: SimPolicy = { ...recommended, rings };
    const reported = simulateMany(policy, { releaseRate: 0.2 + 0.8 * 0.02, controlRate: 0.02 }, 300, 41);
    const bricked = simulateMany(policy, { releaseRate: 0.02, controlRate: 0.02, brickShare: 0.2 }, 300, 42);
    expect(reported.haltedInRing[0]).toBeGreaterThanOrEqual(0.99);
    expect(bricked.haltedInRing[0]).toBeGreaterThanOrEqual(0.99);
    expect(bricked.maxExposureHaltedInRing[0]).toBeLessThanOrEqual(100);
    expect(bricked.meanTimedOut).toBeGreaterThan(10);
  });
});

describe('the control cohort as the workflow uses it (heartbeats)', () => {
  const heartbeats: SimPolicy = { ...recommended, heartbeats: true };

  it('every ring runs two tests at half the α share; the last ring, with no control left, post-commit one-sample', () => {
    const rings = resolveRings(heartbeats);
    expect(rings.map((r) => r.tests.length)).toEqual([2, 2, 2, 2]);
    expect(rings[0]!.tests).toEqual([{ on: 'install', method: 'one-sample' }, { on: 'post-commit', method: 'conditional-binomial' }]);
    expect(rings[3]!.tests).toEqual([{ on: 'install', method: 'one-sample' }, { on: 'post-commit', method: 'one-sample' }]);
    expect(rings.map((r) => r.alpha)).toEqual([0.01 / 8, 0.01 / 8, 0.01 / 8, 0.01 / 8].map((a) => expect.closeTo(a, 15)));
    expect(resolveRings(recommended).map((r) => r.tests.length)).toEqual([1, 1, 1, 1]);
  });

  it('a release that installs cleanly and crash-loops after commit halts in the canary only when heartbeats are modelled', () => {
    const crashLoop = { releaseRate: 0.02, controlRate: 0.02, postCommitRate: 0.3 };
    const seen = simulateMany(heartbeats, crashLoop, 200, 51);
    expect(seen.haltedInRing[0]).toBeGreaterThanOrEqual(0.99);
    const run = simulateRollout(heartbeats, crashLoop, 51);
    expect(run.rings[0]!.heartbeats.failures).toBeGreaterThan(0);
    expect(run.rings[0]!.controlObserved).toBeGreaterThan(0);
    // Install outcomes alone (no heartbeats) cannot see it.
    expect(simulateMany(recommended, crashLoop, 200, 51).completed).toBeGreaterThanOrEqual(0.98);
  });

  it('the last ring (no control left) tests post-commit health against the frozen control rate, apart from installs', () => {
    // As rollout/verdict.ts does with progress.controlPool: background post-commit noise no longer
    // halts a good release in the last ring, and a release that crash-loops after commit is still halted.
    const s = simulateMany(heartbeats, good, 200, 61);
    expect(s.haltedInRing[3]).toBeLessThan(0.02);
    expect(s.completed).toBeGreaterThanOrEqual(0.98);
    const crashLoops = simulateMany(heartbeats, { ...good, postCommitRate: 0.2 }, 200, 61);
    expect(crashLoops.halted).toBe(1);
    expect(crashLoops.haltedInRing[0]).toBeGreaterThanOrEqual(0.95);
    // A tripwire last ring (caps only) completes too.
    const tripwireLast: SimPolicy = { ...heartbeats, rings: [...recommended.rings.slice(0, 3), { name: 'fleet', target: 10_000, mode: 'tripwire', maxFailures: 300 }] };
    expect(simulateMany(tripwireLast, good, 200, 61).completed).toBeGreaterThanOrEqual(0.98);
  });
});

describe('validation', () => {
  it('refuses impossible shares and deadlines', () => {
    expect(() => simulateRollout(recommended, { ...good, silentShare: 1 }, 1)).toThrow(/silentShare must be in \[0, 1\)/);
    expect(() => simulateRollout(recommended, { ...good, brickShare: 1.5 }, 1)).toThrow(/brickShare must be in \[0, 1\]/);
    expect(() => simulateRollout(recommended, { ...good, postCommitRate: -0.1 }, 1)).toThrow(/postCommitRate/);
    expect(() => simulateRollout(oneRing({ timeoutPolls: 0 }), good, 1)).toThrow(/timeoutPolls must be ≥ 1/);
    expect(() => simulateRollout(oneRing({ bakePolls: 1.5 }), good, 1)).toThrow(/bakePolls must be a whole number/);
  });
});
