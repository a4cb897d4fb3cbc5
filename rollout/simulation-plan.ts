// Many seeded runs of the rollout simulation (rollout/rollout-simulation.ts) turned into figures:
// completion and halt shares per ring, exposure, time to decisions, rings ended by their deadline.
// planPolicy() is what `ota rollout plan` and bench/rollout-decision.mjs print.
import { resolveRings, runSeed, simulateRollout, type RingPlanEntry, type SimPolicy, type SimScenario } from './rollout-simulation.js';
import { detectableEffect, ringCapability, type RingCapability } from './sequential-test.js';

export interface BatchSummary {
  runs: number;
  completed: number;
  halted: number;
  inconclusive: number;
  /** Fractions of runs that stopped (halted / inconclusive) in each ring. */
  haltedInRing: number[];
  inconclusiveInRing: number[];
  /** Fraction of runs halted before the last ring. */
  haltedBeforeLastRing: number;
  meanPolls: number;
  /** Among halted runs: devices exposed (mean, max), and the max per ring it halted in (0: none halted there). */
  meanExposureWhenHalted: number;
  maxExposureWhenHalted: number;
  maxExposureHaltedInRing: number[];
  /** Per ring, mean polls among runs that reached a decision in it (NaN: none did). */
  meanRingPolls: number[];
  /** Rings entered over all runs, and the share of them that ended undecided at their decision deadline. */
  ringsEntered: number;
  endedByDeadline: number;
  /** Longest ring, as a multiple of its decision deadline (≤ 1: none waited past it; NaN: no ring has one). */
  longestWaitVsDeadline: number;
  /** Mean devices counted as timed out per run (bricked devices past their install deadline). */
  meanTimedOut: number;
}

/** `runs` seeded rollouts of one scenario: run i uses runSeed(seed, i). */
export function simulateMany(policy: SimPolicy, scenario: SimScenario, runs: number, seed: number): BatchSummary {
  const n = policy.rings.length;
  const haltedIn = new Array<number>(n).fill(0);
  const inconclusiveIn = new Array<number>(n).fill(0);
  const ringPolls = new Array<number>(n).fill(0);
  const ringDecided = new Array<number>(n).fill(0);
  const maxExposureIn = new Array<number>(n).fill(0);
  let completed = 0, halted = 0, inconclusive = 0, polls = 0, exposureSum = 0, exposureMax = 0;
  let entered = 0, byDeadline = 0, longest = NaN, timedOut = 0;
  for (let i = 0; i < runs; i++) {
    const run = simulateRollout(policy, scenario, runSeed(seed, i));
    polls += run.polls;
    run.rings.forEach((r, j) => {
      entered++;
      timedOut += r.timedOut;
      if (r.by === 'deadline') byDeadline++;
      const deadline = policy.rings[j]!.deadlinePolls;
      if (deadline !== undefined && deadline > 0) longest = Math.max(Number.isNaN(longest) ? 0 : longest, r.polls / deadline);
      if (r.decision !== 'inconclusive') {
        ringPolls[j]! += r.polls;
        ringDecided[j]!++;
      }
    });
    if (run.outcome === 'completed') completed++;
    else if (run.outcome === 'halted') {
      halted++;
      haltedIn[run.ring]!++;
      exposureSum += run.exposure;
      exposureMax = Math.max(exposureMax, run.exposure);
      maxExposureIn[run.ring] = Math.max(maxExposureIn[run.ring]!, run.exposure);
    } else {
      inconclusive++;
      inconclusiveIn[run.ring]!++;
    }
  }
  return {
    runs,
    completed: completed / runs,
    halted: halted / runs,
    inconclusive: inconclusive / runs,
    haltedInRing: haltedIn.map((h) => h / runs),
    inconclusiveInRing: inconclusiveIn.map((h) => h / runs),
    haltedBeforeLastRing: haltedIn.slice(0, n - 1).reduce((a, b) => a + b, 0) / runs,
    meanPolls: polls / runs,
    meanExposureWhenHalted: halted > 0 ? exposureSum / halted : 0,
    maxExposureWhenHalted: exposureMax,
    maxExposureHaltedInRing: maxExposureIn,
    meanRingPolls: ringPolls.map((p, j) => (ringDecided[j]! > 0 ? p / ringDecided[j]! : NaN)),
    ringsEntered: entered,
    endedByDeadline: entered > 0 ? byDeadline / entered : 0,
    longestWaitVsDeadline: longest,
    meanTimedOut: timedOut / runs,
  };
}

export interface SimulationPlanOptions {
  /** Background failure rate of every device, release and control alike. */
  noise: number;
  runs: number;
  seed: number;
  /** Total failure rates of the bad releases to try (default: noise + 3 and + 18 points). */
  badRates?: number[];
  /** Further named scenarios to run (e.g. silent devices, a bricking release), each with its own seed offset. */
  scenarios?: Array<{ name: string; scenario: SimScenario }>;
}

export interface RingPlan extends RingPlanEntry {
  /** Wald's approximations at the given noise (null for tripwire rings). */
  capability: RingCapability | null;
  /** Smallest absolute effect this ring can be built to detect with power ≈ 1−β (Infinity: none). */
  detectableEffect: number | null;
  /** Good release: fraction of runs halted / left inconclusive in this ring. */
  falseHalt: number;
  inconclusive: number;
  /** Good release: mean polls to this ring's decision. */
  meanPollsToDecision: number;
}

export interface PolicyPlan {
  noise: number;
  runs: number;
  seed: number;
  rings: RingPlan[];
  good: BatchSummary;
  bad: Array<{ releaseRate: number; excess: number; summary: BatchSummary }>;
  scenarios: Array<{ name: string; scenario: SimScenario; summary: BatchSummary }>;
  /** Rings that cannot decide sequentially: declare them tripwires (absolute caps) or make them bigger. */
  problems: string[];
}

/** Share of good-release runs left inconclusive in a ring above which planPolicy() reports a problem. */
export const INCONCLUSIVE_WARNING = 0.01;

/** Per-ring and whole-rollout figures for a policy at a background noise, over `runs` seeded rollouts per scenario. */
export function planPolicy(policy: SimPolicy, options: SimulationPlanOptions): PolicyPlan {
  const { noise, runs, seed } = options;
  const resolved = resolveRings(policy);
  const good = simulateMany(policy, { releaseRate: noise, controlRate: noise }, runs, seed);
  const badRates = options.badRates ?? [noise + 0.03, noise + 0.18];
  const bad = badRates.map((rate, i) => ({ releaseRate: rate, excess: rate - noise, summary: simulateMany(policy, { releaseRate: rate, controlRate: noise }, runs, seed + 7919 * (i + 1)) }));
  const scenarios = (options.scenarios ?? []).map(({ name, scenario }, i) => ({ name, scenario, summary: simulateMany(policy, scenario, runs, seed + 104_729 * (i + 1)) }));
  const problems: string[] = [];
  const rings = resolved.map((ring): RingPlan => {
    let capability: RingCapability | null = null;
    let detectable: number | null = null;
    if (ring.mode === 'sequential' && ring.devices > 0) {
      const policyFor = { alpha: ring.alpha, beta: ring.beta, minEffect: ring.minEffect!, baselineRate: policy.baselineRate };
      // Each test must be able to decide: with two, the install outcomes' one-sample test binds.
      const ratios = ring.tests.map((t) => (t.method === 'conditional-binomial' ? ring.controlRatio : 0));
      const caps = ratios.map((controlRatio) => ringCapability({ ringSize: ring.devices, controlRatio, backgroundRate: noise, policy: policyFor }));
      capability = caps.reduce((worst, c) => (c.tripwire && !worst.tripwire) || c.minRingSize > worst.minRingSize ? c : worst);
      detectable = Math.max(...ratios.map((controlRatio) => detectableEffect({ ringSize: ring.devices, controlRatio, backgroundRate: noise, policy: policyFor })));
      if (capability.tripwire) {
        problems.push(`ring ${ring.name} (${ring.devices} devices) cannot reach ${capability.canPass ? 'halt' : 'pass'} for +${(ring.minEffect! * 100).toFixed(1)} points at ${(noise * 100).toFixed(1)}% noise: needs at least ${capability.minRingSize} devices, or declare it a tripwire (absolute caps only)`);
      }
    }
    const undecided = good.inconclusiveInRing[ring.index]!;
    if (undecided > INCONCLUSIVE_WARNING) {
      problems.push(`ring ${ring.name} (${ring.devices} devices) leaves a good release undecided in ${(undecided * 100).toFixed(1)}% of runs: make it bigger or let it pass when undecided`);
    }
    return { ...ring, capability, detectableEffect: detectable, falseHalt: good.haltedInRing[ring.index]!, inconclusive: good.inconclusiveInRing[ring.index]!, meanPollsToDecision: good.meanRingPolls[ring.index]! };
  });
  return { noise, runs, seed, rings, good, bad, scenarios, problems };
}
