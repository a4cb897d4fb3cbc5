// The ring verdict: pass, wait or breach, from the ring's health figures and its policy.
// Pure and deterministic, so the workflow calls it directly and records the figures it used.
import { FAILURE_KINDS, type FailureKind } from '../schemas/failure-kinds.js';
import type { RingPolicy, RolloutStatistics } from './policy.js';
import { cautiousRate, sequentialLook } from './sequential-look.js';
import { sequentialDecision, type CohortCounts, type SequentialDecision, type SequentialMethod } from './sequential-test.js';
import { wilsonInterval } from './wilson.js';

export interface RingHealth {
  /** Devices assigned to the ring (cumulative targets are resolved into this). */
  assigned: number;
  /** Devices that reported a final outcome for this release: committed or failed/rolled back. */
  reported: number;
  committed: number;
  failed: number;
  failuresByKind: Partial<Record<FailureKind, number>>;
  /**
   * From heartbeats, in the window since the ring opened (absent when not read): the control
   * cohort (heartbeat windows of devices of the same rollout still on the previous release) and the
   * ring's reported devices whose post-commit health failed (health check, crash loop) with no failure report.
   */
  control?: CohortCounts | null;
  postCommitFailed?: number;
  /** Heartbeat windows of the ring's devices on the release since it opened (the release cohort of the post-commit test). */
  heartbeats?: CohortCounts | null;
}

export type Verdict = 'pass' | 'wait' | 'breach';

export interface RingVerdict {
  verdict: Verdict;
  reason: string;
  /** The numbers behind the decision, for status output and the history. */
  figures: {
    reported: number;
    minReports: number;
    failed: number;
    failureRate: number;
    bound?: { lower: number; upper: number; confidence: number };
    bakedMs: number;
    bakeTimeMs: number;
    /** Sequential statistics: the test's figures at this look (with a control from heartbeats: post-commit health vs control). */
    sequential?: SequentialFigures;
    /** With a control from heartbeats: the one-sample test of the install outcomes, run beside it. */
    installTest?: SequentialFigures;
    /** With a control from heartbeats: which of the two tests has passed (kept across looks). */
    testsPassed?: SequentialTestsPassed;
  };
}

export interface SequentialTestsPassed {
  install?: boolean;
  postCommit?: boolean;
}

export interface SequentialFigures {
  decision: SequentialDecision;
  method: SequentialMethod;
  /** Log-likelihood ratio; halt at ≥ haltBoundary, pass at ≤ passBoundary. */
  statistic: number;
  haltBoundary: number;
  passBoundary: number;
  /** This ring's share of the policy's α, its β and the effect it tests for. */
  alpha: number;
  beta: number;
  minEffect: number;
  referenceRate: number;
  /** More failures among the observed devices that would halt now (0 when halted). */
  releaseFailuresToHalt: number | null;
  /** The pass boundary has been reached, now or at an earlier look of this ring. */
  passed: boolean;
  /** The counts the test used: the ring's release cohort and the control (null: one-sample). */
  release: CohortCounts;
  control: CohortCounts | null;
  /** Post-commit health with heartbeats: what it was measured against (a quiet control is a one-sample yardstick). */
  yardstick?: 'control' | 'a quiet control' | 'earlier controls';
}

export interface VerdictInput {
  ring: RingPolicy;
  health: RingHealth;
  /** Time since the ring's devices were released. */
  bakedMs: number;
  bakeTimeMs: number;
  statistics: RolloutStatistics;
  /** Sequential: rings of the policy that are not tripwires (α is split over them); default 1. */
  sequentialRings?: number;
  /** Sequential: the test reached its pass boundary at an earlier look of this ring (a pass is kept). */
  testPassed?: boolean;
  /** Sequential with a control from heartbeats: which of the two tests passed at an earlier look. */
  testsPassed?: SequentialTestsPassed;
  /**
   * Sequential: previous-release devices of the same rollout and window (control cohort). Absent:
   * the test runs one-sample against baselineRate. Default: health.control (from heartbeats).
   */
  control?: CohortCounts | null;
  /** Sequential: background rate frozen before the ring opened; default statistics.baselineRate. */
  referenceRate?: number;
  /**
   * Sequential: the post-commit failure rate of earlier rings' controls, frozen when this ring
   * opened (frozenReferenceRate). With heartbeats from the ring but no control left (the last
   * ring, once everyone moved), post-commit health is tested one-sample against it, apart from
   * the install outcomes. Absent: post-commit failures join the install outcomes' one test.
   */
  postCommitReferenceRate?: number;
}

/** Control failures needed before their pooled rate replaces the policy's baselineRate as a reference. */
export const REFERENCE_MIN_FAILURES = 20;

/**
 * The reference a ring freezes when it opens: the pooled post-commit failure rate of the controls
 * of earlier rings once they hold REFERENCE_MIN_FAILURES failures, else the fallback (baselineRate).
 * An estimate that came out low would make the test halt good releases more often than α, so the
 * rate taken is the upper 95% Wilson bound of the pool, and never below the fallback. Kept below
 * 1 − minEffect so the alternative stays a rate.
 */
export function frozenReferenceRate(pool: CohortCounts | undefined, fallback: number, minEffect: number): number {
  if (!pool || pool.failures < REFERENCE_MIN_FAILURES) return fallback;
  return cautiousRate(pool, fallback, minEffect);
}

/** Which rings of a policy run the sequential test (the others are tripwires). */
export function sequentialRingCount(rings: readonly RingPolicy[]): number {
  return rings.filter((r) => !r.tripwire).length;
}

export function ringVerdict(input: VerdictInput): RingVerdict {
  const { ring, health, statistics } = input;
  const t = ring.thresholds;
  const failureRate = health.reported > 0 ? health.failed / health.reported : 0;
  const figures: RingVerdict['figures'] = {
    reported: health.reported,
    minReports: ring.minReports,
    failed: health.failed,
    failureRate,
    bakedMs: input.bakedMs,
    bakeTimeMs: input.bakeTimeMs,
  };
  const result = (verdict: Verdict, reason: string): RingVerdict => ({ verdict, reason, figures });
  // A ring can hold fewer devices than its minReports on a small fleet: it needs all of them,
  // never more than exist. A ring left empty (earlier rings took everyone) has nothing to wait for.
  const needed = Math.min(ring.minReports, health.assigned);
  figures.minReports = needed;
  if (health.assigned === 0) return result('pass', 'no devices in this ring');

  // Absolute counts breach at once: they do not get better with more reports.
  if (health.failed > t.maxFailures) return result('breach', `${health.failed} devices failed, more than the ${t.maxFailures} allowed`);
  for (const kind of FAILURE_KINDS) {
    const limit = t.perKind[kind];
    const n = health.failuresByKind[kind] ?? 0;
    if (limit?.count !== undefined && n > limit.count) return result('breach', `${n} ${kind} failures, more than the ${limit.count} allowed`);
  }

  if (statistics.mode === 'sequential' && !ring.tripwire) {
    // Absolute rates stay a safety net once enough devices reported (counts were checked above).
    if (health.reported >= needed && health.reported > 0) {
      if (failureRate > t.failureRate) return result('breach', `failure rate ${pct(failureRate)} (${health.failed}/${health.reported}) is above the cap of ${pct(t.failureRate)}`);
      const kindBreach = kindRateBreach(input, (failures) => failures / health.reported);
      if (kindBreach) return result('breach', kindBreach);
    }
    const rings = Math.max(1, input.sequentialRings ?? 1);
    const beta = ring.beta ?? statistics.beta;
    const minEffect = ring.minEffect ?? statistics.minEffect;
    const effect = `+${(minEffect * 100).toFixed(1)} pt`;
    const suppliedControl = input.control !== undefined ? input.control : (health.control ?? null);
    const control = suppliedControl && suppliedControl.observed > 0 ? suppliedControl : null;
    const run = (release: CohortCounts, against: CohortCounts | null, alpha: number, referenceRate = input.referenceRate) =>
      sequentialDecision({ release, control: against, policy: { alpha, beta, minEffect, baselineRate: statistics.baselineRate }, referenceRate });
    const figuresOf = (test: ReturnType<typeof run>, alpha: number, release: CohortCounts, against: CohortCounts | null, passed: boolean): SequentialFigures => ({
      decision: test.decision,
      method: test.method,
      statistic: test.statistic,
      haltBoundary: test.haltBoundary,
      passBoundary: test.passBoundary,
      alpha,
      beta,
      minEffect,
      referenceRate: test.referenceRate,
      releaseFailuresToHalt: test.releaseFailuresToHalt,
      passed,
      release,
      control: against,
    });
    const finish = (passedNow: boolean, reason: string): RingVerdict => {
      if (health.reported < needed) return result('wait', `test passed; ${health.reported} of the ${needed} reports needed`);
      if (input.bakedMs < input.bakeTimeMs) return result('wait', `test passed; baking: ${seconds(input.bakedMs)} of ${seconds(input.bakeTimeMs)}`);
      return result('pass', `sequential test (${effect}) passed${passedNow ? '' : ' at an earlier look'}: ${reason}`);
    };

    const look = sequentialLook(
      {
        install: { observed: health.reported, failures: health.failed },
        heartbeats: health.heartbeats ?? null,
        postCommitFailed: health.postCommitFailed ?? 0,
        control,
        alpha: statistics.alpha,
        sequentialRings: rings,
        minEffect,
        baselineRate: statistics.baselineRate,
        ...(input.postCommitReferenceRate !== undefined ? { postCommitReferenceRate: input.postCommitReferenceRate } : {}),
      },
      { testPassed: input.testPassed === true, install: input.testsPassed?.install === true, postCommit: input.testsPassed?.postCommit === true },
      run,
    );
    if (look.tests === 2) {
      const { install, post, installPassed, postPassed } = look;
      figures.sequential = { ...figuresOf(post, look.alpha, look.postCounts, look.against, installPassed && postPassed), yardstick: look.yardstick };
      figures.installTest = figuresOf(install, look.alpha, look.installCounts, null, installPassed);
      figures.testsPassed = { install: installPassed, postCommit: postPassed };
      if (post.decision === 'halt') return result('breach', `sequential test (${effect}), post-commit health vs ${look.yardstick}: ${post.reason}`);
      if (install.decision === 'halt') return result('breach', `sequential test (${effect}), install outcomes: ${install.reason}`);
      if (!(installPassed && postPassed)) {
        const open = [postPassed ? undefined : `post-commit health: ${post.reason}`, installPassed ? undefined : `install outcomes: ${install.reason}`].filter(Boolean).join('; ');
        return result('wait', `sequential test (${effect}) undecided: ${open}`);
      }
      return finish(post.decision === 'pass' && install.decision === 'pass', `post-commit health: ${post.reason}; install outcomes: ${install.reason}`);
    }

    const { test } = look;
    figures.sequential = figuresOf(test, look.alpha, look.release, look.control, look.passed);
    if (test.decision === 'halt') return result('breach', `sequential test (${effect}): ${test.reason}`);
    if (look.awaitingRingHeartbeats) return result('wait', `sequential test (${effect}): waiting for post-commit heartbeats from the ring (the control has ${control!.observed} heartbeat windows)`);
    if (!look.passed) {
      const more = test.releaseFailuresToHalt ? `; ${test.releaseFailuresToHalt} more failures would halt` : '';
      return result('wait', `sequential test (${effect}) undecided: ${test.reason}${more}`);
    }
    return finish(test.decision === 'pass', test.reason);
  }

  if (statistics.mode === 'wilson') {
    const bound = wilsonInterval(health.failed, health.reported, statistics.confidence);
    figures.bound = { ...bound, confidence: statistics.confidence };
    if (health.reported > 0 && bound.lower > t.failureRate) {
      return result('breach', `failure rate is above ${pct(t.failureRate)} with ${pct(statistics.confidence)} confidence (lower bound ${pct(bound.lower)}, ${health.failed}/${health.reported})`);
    }
    const kindBreach = kindRateBreach(input, (failures) => wilsonInterval(failures, health.reported, statistics.confidence).lower);
    if (kindBreach) return result('breach', kindBreach);
    if (health.reported < needed) return result('wait', `${health.reported} of the ${needed} reports needed`);
    if (input.bakedMs < input.bakeTimeMs) return result('wait', `baking: ${seconds(input.bakedMs)} of ${seconds(input.bakeTimeMs)}`);
    if (bound.upper >= t.failureRate) {
      return result('wait', `not yet confident the failure rate is below ${pct(t.failureRate)} (upper bound ${pct(bound.upper)} from ${health.reported} reports)`);
    }
    return result('pass', `failure rate below ${pct(t.failureRate)} with ${pct(statistics.confidence)} confidence (upper bound ${pct(bound.upper)})`);
  }

  if (health.reported >= needed) {
    if (failureRate > t.failureRate) return result('breach', `failure rate ${pct(failureRate)} (${health.failed}/${health.reported}) is above ${pct(t.failureRate)}`);
    const kindBreach = kindRateBreach(input, (failures) => failures / health.reported);
    if (kindBreach) return result('breach', kindBreach);
  }
  if (health.reported < needed) return result('wait', `${health.reported} of the ${needed} reports needed`);
  if (input.bakedMs < input.bakeTimeMs) return result('wait', `baking: ${seconds(input.bakedMs)} of ${seconds(input.bakeTimeMs)}`);
  return result('pass', `${health.committed} committed, failure rate ${pct(failureRate)} within ${pct(t.failureRate)}`);
}

function kindRateBreach(input: VerdictInput, rateOf: (failures: number) => number): string | undefined {
  if (input.health.reported === 0) return undefined;
  for (const kind of FAILURE_KINDS) {
    const limit = input.ring.thresholds.perKind[kind];
    const n = input.health.failuresByKind[kind] ?? 0;
    if (limit?.rate !== undefined && n > 0 && rateOf(n) > limit.rate) {
      return `${kind} failure rate ${pct(n / input.health.reported)} (${n}/${input.health.reported}) is above ${pct(limit.rate)}`;
    }
  }
  return undefined;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(x < 0.1 && x > 0 ? 1 : 0)}%`;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)}s`;
}
