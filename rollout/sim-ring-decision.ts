// The sequential part of the ring verdict (rollout/verdict.ts, `ringVerdict`) as the simulation
// calls it thousands of times per run: same branches, same α split, same kept passes, without the
// status text. test/rollout/sim-ring-decision.test.ts checks it against ringVerdict itself.
import { sequentialVerdict, splitAlpha, type CohortCounts } from './sequential-test.js';
import { cautiousRate } from './verdict.js';

export interface SimLookInput {
  /** Install outcomes of the ring: reported (committed, failed, timed out) and failed (incl. timed out). */
  install: CohortCounts;
  /** The ring's devices heartbeating on the release (null: heartbeats not read). */
  heartbeats: CohortCounts | null;
  /** Of those, devices whose post-commit health failed with no failure report. */
  postCommitFailed: number;
  /** Previous-release devices of the rollout heartbeating in the window (null or empty: no control). */
  control: CohortCounts | null;
  /** Whole rollout's α, the number of sequential rings it is split over, this ring's β and δ. */
  alpha: number;
  sequentialRings: number;
  beta: number;
  minEffect: number;
  baselineRate: number;
  /** The post-commit reference frozen when the ring opened (verdict.ts frozenReferenceRate); absent as in ringVerdict. */
  postCommitReferenceRate?: number;
}

/** What the workflow keeps between looks of one ring (RingStatus.testPassed / testsPassed). */
export interface SimLookState {
  testPassed: boolean;
  install: boolean;
  postCommit: boolean;
}

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
  const { install, alpha: totalAlpha, sequentialRings, beta, minEffect, baselineRate } = input;
  const rings = Math.max(1, sequentialRings);
  const control = input.control && input.control.observed > 0 ? input.control : null;
  const postRelease = input.heartbeats && input.heartbeats.observed > 0 ? input.heartbeats : null;
  const run = (release: CohortCounts, against: CohortCounts | null, alpha: number, referenceRate?: number) =>
    sequentialVerdict({ release, control: against, policy: { alpha, beta, minEffect, baselineRate }, referenceRate }).decision;

  if (postRelease && (control || input.postCommitReferenceRate !== undefined)) {
    // Two tests, like with like: install outcomes one-sample, post-commit health vs the control
    // (or, with no control left, one-sample against the reference frozen from earlier controls).
    const alpha = splitAlpha(totalAlpha, rings, 2);
    const installDecision = run(install, null, alpha);
    const against = control && control.failures > 0 ? control : null;
    const postReference = input.postCommitReferenceRate ?? baselineRate;
    const postDecision = against ? run(postRelease, against, alpha) : run(postRelease, null, alpha, control ? cautiousRate(control, postReference, minEffect) : postReference);
    const installPassed = installDecision !== 'halt' && (state.install || installDecision === 'pass');
    const postPassed = postDecision !== 'halt' && (state.postCommit || postDecision === 'pass');
    state.install = installPassed;
    state.postCommit = postPassed;
    if (installPassed && postPassed) state.testPassed = true;
    const decision = postDecision === 'halt' || installDecision === 'halt' ? 'halt' : installPassed && postPassed ? 'pass' : 'wait';
    return { decision, tests: 2, alpha };
  }

  // One test: post-commit failures the heartbeats showed count with the install outcomes.
  const alpha = splitAlpha(totalAlpha, rings, 1);
  const release = { observed: install.observed, failures: Math.min(install.observed, install.failures + input.postCommitFailed) };
  const decision = run(release, control, alpha);
  // Heartbeats read, the control has them, the ring none yet: may halt, never pass.
  const awaitingRingHeartbeats = control !== null && input.heartbeats !== null && postRelease === null;
  const passed = !awaitingRingHeartbeats && decision !== 'halt' && (state.testPassed || decision === 'pass');
  if (passed) state.testPassed = true;
  return { decision: decision === 'halt' ? 'halt' : passed ? 'pass' : 'wait', tests: 1, alpha };
}
