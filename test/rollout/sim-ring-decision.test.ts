// The simulation's look (rollout/sim-ring-decision.ts) must decide exactly as the workflow's
// ringVerdict (rollout/verdict.ts) and keep passes as next-step.ts keeps them: checked on seeded
// random counts covering every branch (two tests, one test with or without a control, waiting
// for the ring's heartbeats, kept passes).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../platform/paths.js';
import { mulberry32 } from '../../platform/seeded-random.js';
import { readPolicyFile } from '../../rollout/policy-file.js';
import { newLookState, simRingLook, type SimLookState } from '../../rollout/sim-ring-decision.js';
import type { SequentialStatistics } from '../../rollout/policy.js';
import { ringVerdict, type RingHealth } from '../../rollout/verdict.js';

const policy = readPolicyFile(join(projectRoot, 'docs/examples/rollout-policy.yml'));
const stats = policy.statistics as SequentialStatistics;
// No caps, no bake, one report needed: only the sequential test decides.
const noCaps = { failureRate: 1, maxFailures: 1_000_000, perKind: {} };
const rings = [policy.rings[0]!, policy.rings[1]!].map((r) => ({ ...r, thresholds: noCaps, minReports: 1 }));

describe('simRingLook mirrors ringVerdict', () => {
  it('gives the same decision and kept passes on 4,000 seeded random looks', () => {
    const rand = mulberry32(2024);
    const int = (max: number) => Math.floor(rand() * (max + 1));
    const branches = new Set<string>();
    for (let i = 0; i < 4000; i++) {
      const ring = rings[i % 2]!;
      const reported = 1 + int(300);
      const failed = int(Math.min(reported, int(4) === 0 ? 60 : 12));
      const heartbeatsRead = rand() < 0.8;
      const hbObserved = heartbeatsRead && rand() < 0.85 ? int(reported) : 0;
      const heartbeats = heartbeatsRead ? { observed: hbObserved, failures: int(Math.min(hbObserved, int(3) === 0 ? 40 : 8)) } : null;
      const controlObserved = rand() < 0.8 ? int(5000) : 0;
      const control = rand() < 0.9 ? { observed: controlObserved, failures: int(Math.min(controlObserved, 150)) } : null;
      const postCommitFailed = heartbeats ? heartbeats.failures : 0;
      const kept: SimLookState = { testPassed: rand() < 0.2, install: rand() < 0.3, postCommit: rand() < 0.3 };
      // Half the looks carry a post-commit reference frozen from earlier controls, as next-step.ts gives it.
      const postCommitReferenceRate = rand() < 0.5 ? 0.01 + rand() * 0.05 : undefined;
      const health: RingHealth = { assigned: reported + 50, reported, committed: reported - failed, failed, failuresByKind: {}, control, heartbeats, postCommitFailed };
      const verdict = ringVerdict({
        ring, health, bakedMs: 0, bakeTimeMs: 0, statistics: policy.statistics, sequentialRings: 3,
        testPassed: kept.testPassed || undefined, testsPassed: { install: kept.install || undefined, postCommit: kept.postCommit || undefined }, control, postCommitReferenceRate,
      });
      const state = { ...kept };
      const look = simRingLook({ install: { observed: reported, failures: failed }, heartbeats, postCommitFailed, control, alpha: stats.alpha, sequentialRings: 3, beta: ring.beta ?? stats.beta, minEffect: ring.minEffect ?? stats.minEffect, baselineRate: stats.baselineRate, postCommitReferenceRate }, state);
      const expected = { pass: 'pass', wait: 'wait', breach: 'halt' }[verdict.verdict];
      expect({ i, decision: look.decision, alpha: look.alpha }).toEqual({ i, decision: expected, alpha: verdict.figures.sequential!.alpha });
      // next-step.ts: testPassed once figures.sequential.passed; testsPassed from figures.testsPassed.
      if (verdict.figures.sequential!.passed) expect(state.testPassed).toBe(true);
      if (verdict.figures.testsPassed) expect([state.install, state.postCommit]).toEqual([verdict.figures.testsPassed.install, verdict.figures.testsPassed.postCommit]);
      branches.add(`${look.tests}:${look.decision}`);
    }
    // Every branch was exercised: two tests and one, each deciding halt, pass and wait.
    expect([...branches].sort()).toEqual(['1:halt', '1:pass', '1:wait', '2:halt', '2:pass', '2:wait']);
  });

  it('waits for the ring\'s own heartbeats when the control has them (may halt, never pass)', () => {
    const input = { install: { observed: 300, failures: 0 }, heartbeats: { observed: 0, failures: 0 }, postCommitFailed: 0, control: { observed: 3000, failures: 60 }, alpha: 0.01, sequentialRings: 3, beta: 0.05, minEffect: 0.03, baselineRate: 0.02 };
    expect(simRingLook(input, newLookState())).toMatchObject({ decision: 'wait', tests: 1 });
    expect(simRingLook({ ...input, install: { observed: 300, failures: 60 } }, newLookState()).decision).toBe('halt');
    // With heartbeats from the ring: two tests, α halved.
    const two = simRingLook({ ...input, heartbeats: { observed: 300, failures: 6 } }, newLookState());
    expect(two.tests).toBe(2);
    expect(two.alpha).toBeCloseTo(0.01 / 6, 15);
  });
});
