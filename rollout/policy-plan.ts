// What a sequential policy can do before it runs: maps a parsed policy onto the seeded simulation
// (rollout/rollout-simulation.ts) for `ota rollout plan`, and the capability check `ota rollout
// start` refuses on. Pure: no Temporal, no fleet store. The simulation runs the workflow's
// decision (rollout/sim-ring-decision.ts mirrors rollout/verdict.ts): with the control (default,
// devices heartbeat) each ring with previous-release devices left runs the one-sample SPRT on
// install outcomes and the conditional binomial on post-commit health vs the control, α split
// over the two; without (`control: false`) the one-sample test on install outcomes alone. Caps
// (maxFailures, failureRate once minReports reported), bake time, decision deadline (hold as
// inconclusive or pass) and install deadline (a device with no report is a timed-out failure) in polls.
import { parseDuration } from './duration.js';
import { ringTargets, type RolloutPolicy, type SequentialStatistics } from './policy.js';
import { resolveRings, type RingTest, type SimPolicy, type SimScenario } from './rollout-simulation.js';
import { planPolicy, type BatchSummary, type PolicyPlan } from './simulation-plan.js';
import { ringCapability } from './sequential-test.js';

export interface FleetShape {
  fleetSize: number;
  /** Devices offered (and reporting) per poll interval (the pace of the simulated rings). */
  reportsPerPoll: number;
  /** Model the control cohort from heartbeats as the workflow uses it (default true). */
  control?: boolean;
}

export function sequentialStatistics(policy: RolloutPolicy): SequentialStatistics | undefined {
  return policy.statistics.mode === 'sequential' ? policy.statistics : undefined;
}

/** The simulation's view of a sequential policy on a fleet of this size. */
export function simPolicyFor(policy: RolloutPolicy, input: FleetShape): SimPolicy {
  const stats = sequentialStatistics(policy);
  if (!stats) throw new RangeError(`the policy uses ${policy.statistics.mode} statistics; planning needs statistics.mode sequential`);
  const targets = ringTargets(policy, input.fleetSize);
  const pollMs = parseDuration(policy.pollInterval);
  const polls = (d: string | undefined, round: (x: number) => number) => (d === undefined ? undefined : Math.max(1, round(parseDuration(d) / pollMs)));
  const control = input.control !== false;
  return {
    fleetSize: input.fleetSize,
    rings: policy.rings.map((ring, i) => ({
      name: ring.name,
      target: targets[i]!,
      mode: ring.tripwire ? 'tripwire' : 'sequential',
      minEffect: ring.tripwire ? undefined : (ring.minEffect ?? stats.minEffect),
      beta: ring.beta,
      maxFailures: ring.thresholds.maxFailures,
      maxFailureRate: ring.thresholds.failureRate,
      minReports: ring.minReports,
      // The workflow reads health every poll: the ring may pass at the first poll at or after its bake time ...
      bakePolls: Math.ceil(parseDuration(ring.bakeTime) / pollMs),
      // ... ends undecided at the first poll at or after its deadline, and counts a device timed out likewise.
      deadlinePolls: polls(ring.decisionDeadline, Math.ceil),
      timeoutPolls: polls(ring.installDeadline, Math.ceil),
      onUndecided: ring.atDeadline === 'pass' ? 'pass' : 'inconclusive',
    })),
    alpha: stats.alpha,
    beta: stats.beta,
    kinds: 1,
    baselineRate: stats.baselineRate,
    reportsPerPoll: input.reportsPerPoll,
    heartbeats: control,
    // Without the control: every ring runs one-sample against baselineRate.
    maxControlRatio: control ? undefined : 0,
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
 * Judged on the install outcomes' one-sample test at the α share it gets when devices heartbeat
 * (the smaller one: halved where a control exists), so the ring decides with or without heartbeats.
 */
export function capabilityProblems(policy: RolloutPolicy, fleetSize: number): CapabilityProblem[] {
  const stats = sequentialStatistics(policy);
  if (!stats) return [];
  const sim = simPolicyFor(policy, { fleetSize, reportsPerPoll: 1, control: true });
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
  /** The tests the ring runs (empty: a tripwire, caps only), each at `alpha`. */
  tests: RingTest[];
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
  /** Good release: mean polls to this ring's decision (bake time included), and that in ms; NaN when none decided. */
  pollsToDecision: number;
  msToDecision: number;
  bakeTimeMs: number;
  decisionDeadlineMs: number | null;
}

export interface HaltFigures {
  halted: number;
  haltedInFirstRing: number;
  haltedBeforeLastRing: number;
  inconclusive: number;
  meanExposureWhenHalted: number;
  maxExposureWhenHalted: number;
  /** Most devices exposed in a run halted in the first ring (its devices + installs in flight at most). */
  maxExposureHaltedInFirstRing: number;
}

export interface ScenarioRow extends HaltFigures {
  name: string;
  releaseRate: number;
  silentShare: number;
  brickShare: number;
  completed: number;
  /** Share of the rings entered that ended undecided at their decision deadline; longest ring / its deadline. */
  endedByDeadline: number;
  longestWaitVsDeadline: number | null;
}

export interface RolloutPlanReport {
  fleetSize: number;
  noise: number;
  runs: number;
  seed: number;
  reportsPerPoll: number;
  pollIntervalMs: number;
  /** Whether the control cohort (heartbeats) was modelled. */
  control: boolean;
  statistics: SequentialStatistics;
  rings: RingPlanRow[];
  /** A good release (release fails at the noise rate). */
  good: { completed: number; halted: number; inconclusive: number };
  /** Bad releases at noise + 5 and + 20 points. */
  bad: Array<{ excess: number; releaseRate: number } & HaltFigures>;
  /** Silent devices and a bricking release beside the same failures reported. */
  scenarios: ScenarioRow[];
  /** Capability problems (start refuses) and statistical warnings. */
  problems: string[];
}

export interface RolloutPlanOptions extends FleetShape {
  noise: number;
  runs: number;
  seed: number;
  /** Share of devices that never check in, for the silent scenario (0: none). */
  silentShare?: number;
  /** Share of devices a bad release bricks (no report), beside one whose same failures report (0: none). */
  brickShare?: number;
}

export const PLAN_EXCESSES = [0.05, 0.2] as const;

/** The plan's extra scenarios: a good release with silent devices; a release that bricks a share, and one whose same failures report. */
export function planScenarios(noise: number, silentShare: number, brickShare: number): Array<{ name: string; scenario: SimScenario }> {
  const out: Array<{ name: string; scenario: SimScenario }> = [];
  if (silentShare > 0) out.push({ name: `good, ${share(silentShare)} silent`, scenario: { releaseRate: noise, controlRate: noise, silentShare } });
  if (brickShare > 0) {
    // The same devices fail either way: brickShare of them because of the release, the rest at the noise.
    out.push({ name: `fails ${share(brickShare)}, reported`, scenario: { releaseRate: brickShare + (1 - brickShare) * noise, controlRate: noise } });
    out.push({ name: `bricks ${share(brickShare)}, no report`, scenario: { releaseRate: noise, controlRate: noise, brickShare } });
  }
  return out;
}

export function planRollout(policy: RolloutPolicy, options: RolloutPlanOptions): RolloutPlanReport {
  const sim = simPolicyFor(policy, options);
  const stats = sequentialStatistics(policy)!;
  const scenarios = planScenarios(options.noise, options.silentShare ?? 0, options.brickShare ?? 0);
  const plan: PolicyPlan = planPolicy(sim, { noise: options.noise, runs: options.runs, seed: options.seed, badRates: PLAN_EXCESSES.map((e) => options.noise + e), scenarios });
  const pollIntervalMs = parseDuration(policy.pollInterval);
  const problems = [...capabilityProblems(policy, options.fleetSize).map((p) => p.message), ...plan.problems.filter((p) => !/cannot reach/.test(p))];
  const haltFigures = (s: BatchSummary): HaltFigures => ({
    halted: s.halted,
    haltedInFirstRing: s.haltedInRing[0]!,
    haltedBeforeLastRing: s.haltedBeforeLastRing,
    inconclusive: s.inconclusive,
    meanExposureWhenHalted: s.meanExposureWhenHalted,
    maxExposureWhenHalted: s.maxExposureWhenHalted,
    maxExposureHaltedInFirstRing: s.maxExposureHaltedInRing[0]!,
  });
  return {
    fleetSize: options.fleetSize,
    noise: options.noise,
    runs: options.runs,
    seed: options.seed,
    reportsPerPoll: options.reportsPerPoll,
    pollIntervalMs,
    control: sim.heartbeats === true,
    statistics: stats,
    rings: plan.rings.map((r) => {
      const ringPolicy = policy.rings[r.index]!;
      return {
        name: r.name,
        mode: r.mode,
        devices: r.devices,
        target: r.target,
        tests: r.tests,
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
    bad: plan.bad.map((b) => ({ excess: b.excess, releaseRate: b.releaseRate, ...haltFigures(b.summary) })),
    scenarios: plan.scenarios.map(({ name, scenario, summary }) => ({
      name,
      releaseRate: scenario.releaseRate,
      silentShare: scenario.silentShare ?? 0,
      brickShare: scenario.brickShare ?? 0,
      completed: summary.completed,
      ...haltFigures(summary),
      endedByDeadline: summary.endedByDeadline,
      longestWaitVsDeadline: Number.isNaN(summary.longestWaitVsDeadline) ? null : summary.longestWaitVsDeadline,
    })),
    problems,
  };
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

function share(x: number): string {
  return `${+(x * 100).toFixed(1)}%`;
}

function pts(x: number): string {
  return `${(x * 100).toFixed(1)} points`;
}
