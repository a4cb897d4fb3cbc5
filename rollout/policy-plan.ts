// What a sequential policy can do before it runs: maps a parsed policy onto the seeded simulation
// (rollout/rollout-simulation.ts) for `ota rollout plan`, and the capability check `ota rollout
// start` refuses on. Pure: no Temporal, no fleet store. The simulation runs the same decision
// code as the workflow's verdict: one-sample SPRT against baselineRate (the plan models install outcomes only, not the
// heartbeat test against the control that the workflow adds when heartbeats arrive),
// α split over the rings that are not tripwires, absolute maxFailures as the caps, and an
// undecided ring holding as inconclusive (its decision deadline).
import { parseDuration } from './duration.js';
import { ringTargets, type RolloutPolicy, type SequentialStatistics } from './policy.js';
import { planPolicy, resolveRings, type PolicyPlan, type SimPolicy } from './rollout-simulation.js';
import { ringCapability } from './sequential-test.js';

export interface FleetShape {
  fleetSize: number;
  /** Final install reports per poll interval (the pace of the simulated rings). */
  reportsPerPoll: number;
}

export function sequentialStatistics(policy: RolloutPolicy): SequentialStatistics | undefined {
  return policy.statistics.mode === 'sequential' ? policy.statistics : undefined;
}

/** The simulation's view of a sequential policy on a fleet of this size. */
export function simPolicyFor(policy: RolloutPolicy, input: FleetShape): SimPolicy {
  const stats = sequentialStatistics(policy);
  if (!stats) throw new RangeError(`the policy uses ${policy.statistics.mode} statistics; planning needs statistics.mode sequential`);
  const targets = ringTargets(policy, input.fleetSize);
  return {
    fleetSize: input.fleetSize,
    rings: policy.rings.map((ring, i) => ({
      name: ring.name,
      target: targets[i]!,
      mode: ring.tripwire ? 'tripwire' : 'sequential',
      minEffect: ring.tripwire ? undefined : (ring.minEffect ?? stats.minEffect),
      beta: ring.beta,
      maxFailures: ring.thresholds.maxFailures,
      onUndecided: ring.atDeadline === 'pass' ? 'pass' : 'inconclusive',
    })),
    alpha: stats.alpha,
    beta: stats.beta,
    kinds: 1,
    baselineRate: stats.baselineRate,
    reportsPerPoll: input.reportsPerPoll,
    // No control cohort is wired yet: every ring runs one-sample against baselineRate.
    maxControlRatio: 0,
  };
}

export interface CapabilityProblem {
  ring: string;
  devices: number;
  minRingSize: number;
  canPass: boolean;
  canHalt: boolean;
  message: string;
}

/**
 * Sequential rings that can never pass a good release or never halt one worse by their effect,
 * at the policy's own baselineRate (Wald's expected sample sizes): what `ota rollout start` refuses.
 */
export function capabilityProblems(policy: RolloutPolicy, fleetSize: number): CapabilityProblem[] {
  const stats = sequentialStatistics(policy);
  if (!stats) return [];
  const sim = simPolicyFor(policy, { fleetSize, reportsPerPoll: 1 });
  const problems: CapabilityProblem[] = [];
  for (const ring of resolveRings(sim)) {
    if (ring.mode !== 'sequential' || ring.devices === 0) continue;
    const cap = ringCapability({ ringSize: ring.devices, controlRatio: 0, backgroundRate: stats.baselineRate, policy: { alpha: ring.alpha, beta: ring.beta, minEffect: ring.minEffect!, baselineRate: stats.baselineRate } });
    if (!cap.tripwire) continue;
    const never = [cap.canPass ? '' : 'pass a good release', cap.canHalt ? '' : `halt one worse by +${pts(ring.minEffect!)}`].filter(Boolean).join(' or ');
    problems.push({
      ring: ring.name,
      devices: ring.devices,
      minRingSize: cap.minRingSize,
      canPass: cap.canPass,
      canHalt: cap.canHalt,
      message: `ring ${ring.name} (${ring.devices} devices) can never ${never} at ${pct(stats.baselineRate)} background: it needs at least ${cap.minRingSize} devices, or declare it tripwire: true (absolute caps only)`,
    });
  }
  return problems;
}

export interface RingPlanRow {
  name: string;
  mode: 'sequential' | 'tripwire';
  /** Devices this ring adds, and the cumulative target. */
  devices: number;
  target: number;
  alpha: number | null;
  beta: number | null;
  minEffect: number | null;
  /** Smallest excess failure rate (absolute) the ring can detect with power 1−β; null = tripwire, Infinity = none. */
  detectableEffect: number | null;
  /** Smallest ring size for the stated effect (null for tripwires). */
  minRingSize: number | null;
  /** Good release at the given noise: halted here / held inconclusive here. */
  falseHalt: number;
  inconclusive: number;
  /** Good release: mean polls to this ring's decision, and that in ms (polls × pollInterval); NaN when none decided. */
  pollsToDecision: number;
  msToDecision: number;
  bakeTimeMs: number;
  decisionDeadlineMs: number | null;
}

export interface RolloutPlanReport {
  fleetSize: number;
  noise: number;
  runs: number;
  seed: number;
  reportsPerPoll: number;
  pollIntervalMs: number;
  statistics: SequentialStatistics;
  rings: RingPlanRow[];
  /** A good release (release fails at the noise rate). */
  good: { completed: number; halted: number; inconclusive: number };
  /** Bad releases at noise + 5 and + 20 points. */
  bad: Array<{ excess: number; releaseRate: number; halted: number; haltedInFirstRing: number; haltedBeforeLastRing: number; inconclusive: number; meanExposureWhenHalted: number; maxExposureWhenHalted: number }>;
  /** Capability problems (start refuses) and statistical warnings. */
  problems: string[];
}

export interface RolloutPlanOptions extends FleetShape {
  noise: number;
  runs: number;
  seed: number;
}

export const PLAN_EXCESSES = [0.05, 0.2] as const;

export function planRollout(policy: RolloutPolicy, options: RolloutPlanOptions): RolloutPlanReport {
  const sim = simPolicyFor(policy, options);
  const stats = sequentialStatistics(policy)!;
  const plan: PolicyPlan = planPolicy(sim, { noise: options.noise, runs: options.runs, seed: options.seed, badRates: PLAN_EXCESSES.map((e) => options.noise + e) });
  const pollIntervalMs = parseDuration(policy.pollInterval);
  const problems = [...capabilityProblems(policy, options.fleetSize).map((p) => p.message), ...plan.problems.filter((p) => !/cannot reach/.test(p))];
  return {
    fleetSize: options.fleetSize,
    noise: options.noise,
    runs: options.runs,
    seed: options.seed,
    reportsPerPoll: options.reportsPerPoll,
    pollIntervalMs,
    statistics: stats,
    rings: plan.rings.map((r) => {
      const ringPolicy = policy.rings[r.index]!;
      return {
        name: r.name,
        mode: r.mode,
        devices: r.devices,
        target: r.target,
        alpha: r.mode === 'sequential' ? r.alpha : null,
        beta: r.mode === 'sequential' ? r.beta : null,
        minEffect: r.minEffect,
        detectableEffect: r.detectableEffect,
        minRingSize: r.capability ? r.capability.minRingSize : null,
        falseHalt: r.falseHalt,
        inconclusive: r.inconclusive,
        pollsToDecision: r.meanPollsToDecision,
        msToDecision: r.meanPollsToDecision * pollIntervalMs,
        bakeTimeMs: parseDuration(ringPolicy.bakeTime),
        decisionDeadlineMs: ringPolicy.decisionDeadline ? parseDuration(ringPolicy.decisionDeadline) : null,
      };
    }),
    good: { completed: plan.good.completed, halted: plan.good.halted, inconclusive: plan.good.inconclusive },
    bad: plan.bad.map((b) => ({
      excess: b.excess,
      releaseRate: b.releaseRate,
      halted: b.summary.halted,
      haltedInFirstRing: b.summary.haltedInRing[0]!,
      haltedBeforeLastRing: b.summary.haltedBeforeLastRing,
      inconclusive: b.summary.inconclusive,
      meanExposureWhenHalted: b.summary.meanExposureWhenHalted,
      maxExposureWhenHalted: b.summary.maxExposureWhenHalted,
    })),
    problems,
  };
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

function pts(x: number): string {
  return `${(x * 100).toFixed(1)} points`;
}
