// One look of a sequential ring: which tests run on which counts, their α share, and which of them
// have passed (kept across looks). The one place these branches live: ringVerdict (verdict.ts)
// formats the answer for people, the simulation (sim-ring-decision.ts) runs it thousands of times.
import { splitAlpha, type CohortCounts, type SequentialDecision } from './sequential-test.js';
import { wilsonInterval } from './wilson.js';

export interface LookCounts {
  /** Install outcomes of the ring: reported (committed, failed, timed out) and failed (incl. timed out). */
  install: CohortCounts;
  /** Heartbeat windows of the ring's devices on the release (null: heartbeats not read). */
  heartbeats: CohortCounts | null;
  /** Reported devices whose post-commit health failed with no failure report. */
  postCommitFailed: number;
  /** Heartbeat windows of the rollout's devices on another release (null or empty: no control). */
  control: CohortCounts | null;
  /** The rollout's α, split over its sequential rings (at least 1). */
  alpha: number;
  sequentialRings: number;
  minEffect: number;
  baselineRate: number;
  /** The post-commit reference frozen when the ring opened (frozenReferenceRate); absent: none. */
  postCommitReferenceRate?: number;
}

/** Passes kept from earlier looks of the ring (RingStatus.testPassed / testsPassed). */
export interface KeptPasses {
  testPassed: boolean;
  install: boolean;
  postCommit: boolean;
}

/** Runs one sequential test: release counts against a control (null: one-sample, against referenceRate or the baseline). */
export type RunTest<R> = (release: CohortCounts, against: CohortCounts | null, alpha: number, referenceRate?: number) => R;

export type Look<R> =
  | {
      tests: 2;
      alpha: number;
      install: R;
      installCounts: CohortCounts;
      post: R;
      postCounts: CohortCounts;
      /** The control the post-commit test compared with (null: one-sample against a yardstick). */
      against: CohortCounts | null;
      yardstick: 'control' | 'a quiet control' | 'earlier controls';
      installPassed: boolean;
      postPassed: boolean;
    }
  | {
      tests: 1;
      alpha: number;
      test: R;
      release: CohortCounts;
      control: CohortCounts | null;
      /** Heartbeats read and the control has them, but none from the ring yet: may halt, never pass. */
      awaitingRingHeartbeats: boolean;
      passed: boolean;
    };

/** The upper 95% Wilson bound of a cohort's failure rate, never below `fallback`, kept below 1 − minEffect. */
export function cautiousRate(cohort: CohortCounts, fallback: number, minEffect: number): number {
  const upper = cohort.observed > 0 ? wilsonInterval(cohort.failures, cohort.observed, 0.95).upper : fallback;
  return Math.min(Math.max(fallback, upper), (1 - minEffect) * 0.999);
}

export function sequentialLook<R extends { decision: SequentialDecision }>(counts: LookCounts, kept: KeptPasses, run: RunTest<R>): Look<R> {
  const rings = Math.max(1, counts.sequentialRings);
  const control = counts.control && counts.control.observed > 0 ? counts.control : null;
  const postCounts = counts.heartbeats && counts.heartbeats.observed > 0 ? counts.heartbeats : null;

  if (postCounts && (control || counts.postCommitReferenceRate !== undefined)) {
    // Like with like: the ring's post-commit health (heartbeats on the release) against the
    // control's (heartbeats on the previous release, same window), by the conditional binomial,
    // or, with no control left, one-sample against the rate earlier controls showed; install
    // outcomes, which the control cannot have, by the one-sample test. α is split over both.
    const alpha = splitAlpha(counts.alpha, rings, 2);
    const install = run(counts.install, null, alpha);
    // A control with no failure at all is too quiet to compare with (the conditional test learns
    // only from failures: on a healthy fleet it would never decide); it is used as a yardstick
    // instead: one-sample against its cautious rate, never below the frozen reference.
    const against = control && control.failures > 0 ? control : null;
    const postReference = counts.postCommitReferenceRate ?? counts.baselineRate;
    const post = against ? run(postCounts, against, alpha) : run(postCounts, null, alpha, control ? cautiousRate(control, postReference, counts.minEffect) : postReference);
    return {
      tests: 2,
      alpha,
      install,
      installCounts: counts.install,
      post,
      postCounts,
      against,
      yardstick: against ? 'control' : control ? 'a quiet control' : 'earlier controls',
      installPassed: install.decision !== 'halt' && (kept.install || install.decision === 'pass'),
      postPassed: post.decision !== 'halt' && (kept.postCommit || post.decision === 'pass'),
    };
  }

  // Without heartbeats on both sides, one test: post-commit failures the heartbeats showed count
  // with the install outcomes (a device that committed and then crash-loops failed too).
  const alpha = splitAlpha(counts.alpha, rings, 1);
  const release = { observed: counts.install.observed, failures: Math.min(counts.install.observed, counts.install.failures + counts.postCommitFailed) };
  const test = run(release, control, alpha);
  // Install outcomes alone must not pass the ring against the control's post-commit failures
  // (unlike with unlike, and the crash loops are still to come). A halt still counts.
  const awaitingRingHeartbeats = control !== null && counts.heartbeats !== null && postCounts === null;
  const passed = !awaitingRingHeartbeats && test.decision !== 'halt' && (kept.testPassed || test.decision === 'pass');
  return { tests: 1, alpha, test, release, control, awaitingRingHeartbeats, passed };
}
