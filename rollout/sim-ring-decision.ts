// The sequential part of the ring verdict as the simulation calls it thousands of times per run:
// the same look as ringVerdict (sequential-look.ts), with the tests' figures but not their status
// text. test/rollout/sim-ring-decision.test.ts checks it against ringVerdict itself.
import { sequentialLook, type KeptPasses, type LookCounts } from './sequential-look.js';
import { sequentialVerdict, type CohortCounts } from './sequential-test.js';

/** The look's counts and the ring's β (the simulation runs the tests itself). */
export interface SimLookInput extends LookCounts {
  beta: number;
}

/** What the workflow keeps between looks of one ring (RingStatus.testPassed / testsPassed). */
export type SimLookState = KeptPasses;

export interface SimLook {
  /** halt = breach by the test; pass = the test(s) passed (bake time and minReports come on top); wait otherwise. */
  decision: 'halt' | 'pass' | 'wait';
  /** Two tests (install one-sample + post-commit vs control) or one; each test's α share. */
  tests: 1 | 2;
  alpha: number;
}

export function newLookState(): SimLookState {
  return { testPassed: false, install: false, postCommit: false };
}

/** One look of a sequential ring; updates `state` as next-step.ts updates the ring's kept passes. */
export function simRingLook(input: SimLookInput, state: SimLookState): SimLook {
  const { beta, minEffect, baselineRate } = input;
  const run = (release: CohortCounts, against: CohortCounts | null, alpha: number, referenceRate?: number) =>
    sequentialVerdict({ release, control: against, policy: { alpha, beta, minEffect, baselineRate }, referenceRate });
  const look = sequentialLook(input, state, run);
  if (look.tests === 2) {
    state.install = look.installPassed;
    state.postCommit = look.postPassed;
    const passed = look.installPassed && look.postPassed;
    if (passed) state.testPassed = true;
    const halted = look.post.decision === 'halt' || look.install.decision === 'halt';
    return { decision: halted ? 'halt' : passed ? 'pass' : 'wait', tests: 2, alpha: look.alpha };
  }
  if (look.passed) state.testPassed = true;
  return { decision: look.test.decision === 'halt' ? 'halt' : look.passed ? 'pass' : 'wait', tests: 1, alpha: look.alpha };
}
