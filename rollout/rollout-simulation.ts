// A seeded, pure simulation of a ring sequence under the sequential decision rule
// (rollout/sequential-test.ts): devices of each ring report over polls, each failing with the
// release's rate; a control cohort of previous-release devices is observed in step with them,
// failing with the control's rate; the test is applied at every poll. planPolicy() turns many
// seeded runs into the figures `ota rollout plan` prints. Seeded PRNG (platform/seeded-random.ts), no Math.random.
import { detectableEffect, ringCapability, sequentialVerdict, splitAlpha, type RingCapability, type SequentialMethod } from './sequential-test.js';
import { mulberry32 } from '../platform/seeded-random.js';

/** Independent seed for run i of a batch (splitmix-style mixing of the base seed and the index). */
export function runSeed(baseSeed: number, run: number): number {
  let z = (Math.imul(baseSeed >>> 0, 0x9e3779b1) + Math.imul(run + 1, 0x85ebca6b)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x7feb352d) >>> 0;
  z = Math.imul(z ^ (z >>> 15), 0x846ca68b) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

export interface SimRing {
  name: string;
  /** Cumulative devices on the release once this ring is entered. */
  target: number;
  /** sequential: the SPRT (plus any cap); tripwire: absolute cap only, passes once every device reported. */
  mode: 'sequential' | 'tripwire';
  /** Smallest harmful effect this ring's test is built for (absolute); required for sequential rings. */
  minEffect?: number;
  /** Miss probability for this ring (defaults to the policy's). */
  beta?: number;
  /** Absolute cap: halt when more of this ring's release devices than this have failed. */
  maxFailures?: number;
  /**
   * Sequential ring whose devices have all reported without a decision: hold as inconclusive
   * (default; a person decides) or pass. Passing there keeps α (a halt still needs the halt
   * boundary) and only costs power, which planPolicy() measures.
   */
  onUndecided?: 'inconclusive' | 'pass';
}

export interface SimPolicy {
  fleetSize: number;
  rings: SimRing[];
  /** Whole rollout's false-halt budget, split (Bonferroni) over sequential rings × kinds. */
  alpha: number;
  beta: number;
  /** Failure kinds tested per ring (each gets its α share; the simulation draws one aggregate kind). */
  kinds: number;
  /** Background rate the effects are stated over, and the one-sample H0 before any control is measured. */
  baselineRate: number;
  /** Release devices reporting a final outcome per poll (installs in flight at a halt = one poll's worth). */
  reportsPerPoll: number;
  /** Cap on control devices observed per release device (default: every device not yet in the release). */
  maxControlRatio?: number;
  /** sprt (default) or naive: a one-sided fixed-sample z test re-checked at every poll, for comparison only. */
  rule?: 'sprt' | 'naive';
}

export interface SimScenario {
  releaseRate: number;
  controlRate: number;
}

export type RingOutcome = 'pass' | 'halt' | 'inconclusive';

export interface RingRun {
  decision: RingOutcome;
  polls: number;
  releaseObserved: number;
  releaseFailures: number;
  controlObserved: number;
  controlFailures: number;
  /** What decided: the sequential test, the absolute cap, or the ring's devices all reported undecided. */
  by: 'test' | 'cap' | 'end';
}

export interface RolloutRun {
  outcome: 'completed' | 'halted' | 'inconclusive';
  /** Ring index where it stopped (halted / inconclusive), or the last ring when completed. */
  ring: number;
  polls: number;
  /** Devices the release was offered to when the rollout stopped (including one poll of installs in flight). */
  exposure: number;
  rings: RingRun[];
}

export interface RingPlanEntry {
  name: string;
  index: number;
  mode: 'sequential' | 'tripwire';
  alpha: number;
  beta: number;
  minEffect: number | null;
  /** Devices this ring adds, and the cumulative target. */
  devices: number;
  target: number;
  controlRatio: number;
  method: SequentialMethod;
}

/** Resolved per-ring parameters: α share, β, control ratio (devices outside the release per ring device). */
export function resolveRings(policy: SimPolicy): RingPlanEntry[] {
  validateSimPolicy(policy);
  const sequential = policy.rings.filter((r) => r.mode === 'sequential').length;
  const alpha = sequential > 0 ? splitAlpha(policy.alpha, sequential, policy.kinds) : 0;
  let previous = 0;
  return policy.rings.map((ring, index) => {
    const target = Math.min(policy.fleetSize, Math.max(previous, ring.target));
    const devices = target - previous;
    previous = target;
    const pool = policy.fleetSize - target;
    const controlRatio = devices > 0 && pool > 0 ? Math.min(policy.maxControlRatio ?? Infinity, pool / devices) : 0;
    const method: SequentialMethod = ring.mode === 'tripwire' ? 'none' : controlRatio > 0 ? 'conditional-binomial' : 'one-sample';
    return { name: ring.name, index, mode: ring.mode, alpha: ring.mode === 'sequential' ? alpha : 0, beta: ring.beta ?? policy.beta, minEffect: ring.minEffect ?? null, devices, target, controlRatio, method };
  });
}

function validateSimPolicy(policy: SimPolicy): void {
  if (!Number.isInteger(policy.fleetSize) || policy.fleetSize < 1) throw new RangeError('fleetSize must be a whole number ≥ 1');
  if (!Number.isInteger(policy.reportsPerPoll) || policy.reportsPerPoll < 1) throw new RangeError('reportsPerPoll must be a whole number ≥ 1');
  if (policy.rings.length === 0) throw new RangeError('at least one ring');
  for (const ring of policy.rings) {
    if (ring.mode === 'sequential' && !(ring.minEffect && ring.minEffect > 0)) throw new RangeError(`ring ${ring.name}: a sequential ring needs minEffect > 0`);
  }
}

/** Minimum control failures before the pooled control rate replaces policy.baselineRate as the reference. */
const REFERENCE_MIN_FAILURES = 20;

/** One seeded rollout through every ring. Pure: the same arguments give the same run. */
export function simulateRollout(policy: SimPolicy, scenario: SimScenario, seed: number): RolloutRun {
  const rings = resolveRings(policy);
  const rand = mulberry32(seed);
  const { releaseRate, controlRate } = scenario;
  const runs: RingRun[] = [];
  let polls = 0;
  // Control observations of earlier rings: the reference rate, frozen before each ring opens.
  let pooledControlObserved = 0;
  let pooledControlFailures = 0;
  for (const ring of rings) {
    const spec = policy.rings[ring.index]!;
    const referenceRate = pooledControlFailures >= REFERENCE_MIN_FAILURES ? pooledControlFailures / pooledControlObserved : policy.baselineRate;
    const pool = policy.fleetSize - ring.target;
    let nR = 0, kR = 0, nC = 0, kC = 0, ringPolls = 0;
    let decision: RingOutcome = 'pass';
    let by: RingRun['by'] = 'end';
    while (nR < ring.devices) {
      ringPolls++;
      const add = Math.min(policy.reportsPerPoll, ring.devices - nR);
      for (let i = 0; i < add; i++) if (rand() < releaseRate) kR++;
      nR += add;
      if (ring.controlRatio > 0) {
        const wantC = Math.min(pool, Math.floor(ring.controlRatio * nR));
        for (let i = nC; i < wantC; i++) if (rand() < controlRate) kC++;
        nC = Math.max(nC, wantC);
      }
      if (spec.maxFailures !== undefined && kR > spec.maxFailures) {
        decision = 'halt';
        by = 'cap';
        break;
      }
      if (ring.mode === 'tripwire') continue;
      const d = decide(policy.rule ?? 'sprt', { observed: nR, failures: kR }, ring.controlRatio > 0 ? { observed: nC, failures: kC } : null, { alpha: ring.alpha, beta: ring.beta, minEffect: ring.minEffect!, baselineRate: policy.baselineRate }, referenceRate, nR === ring.devices);
      if (d !== 'continue') {
        decision = d;
        by = 'test';
        break;
      }
      if (nR === ring.devices) decision = spec.onUndecided ?? 'inconclusive';
    }
    polls += ringPolls;
    pooledControlObserved += nC;
    pooledControlFailures += kC;
    runs.push({ decision, polls: ringPolls, releaseObserved: nR, releaseFailures: kR, controlObserved: nC, controlFailures: kC, by });
    if (decision !== 'pass') {
      const exposure = ring.target - ring.devices + Math.min(ring.devices, nR + policy.reportsPerPoll);
      return { outcome: decision === 'halt' ? 'halted' : 'inconclusive', ring: ring.index, polls, exposure, rings: runs };
    }
  }
  return { outcome: 'completed', ring: rings.length - 1, polls, exposure: rings[rings.length - 1]!.target, rings: runs };
}

type Counts = { observed: number; failures: number };
type Params = { alpha: number; beta: number; minEffect: number; baselineRate: number };

function decide(rule: 'sprt' | 'naive', release: Counts, control: Counts | null, params: Params, referenceRate: number, last: boolean): 'continue' | 'halt' | 'pass' {
  if (rule === 'sprt') return sequentialVerdict({ release, control, policy: params, referenceRate }).decision;
  const z = naiveZ(release, control, referenceRate);
  if (z >= cachedQuantile(1 - params.alpha)) return 'halt';
  return last ? 'pass' : 'continue';
}

/**
 * The rule a fixed-sample test gives when re-checked at every poll: one-sided pooled
 * two-proportion z statistic (release vs control), or one-sample vs the reference. Comparison only:
 * its false-halt rate grows with the number of looks.
 */
export function naiveZ(release: Counts, control: Counts | null, referenceRate: number): number {
  if (release.observed === 0) return 0;
  const pr = release.failures / release.observed;
  if (!control || control.observed === 0) {
    const se = Math.sqrt((referenceRate * (1 - referenceRate)) / release.observed);
    return (pr - referenceRate) / se;
  }
  const pc = control.failures / control.observed;
  const pooled = (release.failures + control.failures) / (release.observed + control.observed);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / release.observed + 1 / control.observed));
  return se > 0 ? (pr - pc) / se : 0;
}

const quantiles = new Map<number, number>();
function cachedQuantile(p: number): number {
  let q = quantiles.get(p);
  if (q === undefined) quantiles.set(p, (q = normalQuantile(p)));
  return q;
}

/** Standard normal quantile by bisection on an erfc-based CDF (accurate to ~1e-7, ample here). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError('p must be in (0, 1)');
  let lo = -10, hi = 10;
  for (let i = 0; i < 80; i++) {
    const mid = (lo + hi) / 2;
    if (normalCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export function normalCdf(x: number): number {
  // Numerical Recipes erfc (Chebyshev), relative error < 1.2e-7.
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - r / 2 : r / 2;
}

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
  /** Among halted runs: devices exposed (mean, max). */
  meanExposureWhenHalted: number;
  maxExposureWhenHalted: number;
  /** Per ring, mean polls among runs that reached a decision in it (NaN: none did). */
  meanRingPolls: number[];
}

/** `runs` seeded rollouts of one scenario: run i uses runSeed(seed, i). */
export function simulateMany(policy: SimPolicy, scenario: SimScenario, runs: number, seed: number): BatchSummary {
  const n = policy.rings.length;
  const haltedIn = new Array<number>(n).fill(0);
  const inconclusiveIn = new Array<number>(n).fill(0);
  const ringPolls = new Array<number>(n).fill(0);
  const ringDecided = new Array<number>(n).fill(0);
  let completed = 0, halted = 0, inconclusive = 0, polls = 0, exposureSum = 0, exposureMax = 0;
  for (let i = 0; i < runs; i++) {
    const run = simulateRollout(policy, scenario, runSeed(seed, i));
    polls += run.polls;
    run.rings.forEach((r, j) => {
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
    meanRingPolls: ringPolls.map((p, j) => (ringDecided[j]! > 0 ? p / ringDecided[j]! : NaN)),
  };
}

export interface SimulationPlanOptions {
  /** Background failure rate of every device, release and control alike. */
  noise: number;
  runs: number;
  seed: number;
  /** Total failure rates of the bad releases to try (default: noise + 3 and + 18 points). */
  badRates?: number[];
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
  const problems: string[] = [];
  const rings = resolved.map((ring): RingPlan => {
    let capability: RingCapability | null = null;
    let detectable: number | null = null;
    if (ring.mode === 'sequential' && ring.devices > 0) {
      const policyFor = { alpha: ring.alpha, beta: ring.beta, minEffect: ring.minEffect!, baselineRate: policy.baselineRate };
      capability = ringCapability({ ringSize: ring.devices, controlRatio: ring.controlRatio, backgroundRate: noise, policy: policyFor });
      detectable = detectableEffect({ ringSize: ring.devices, controlRatio: ring.controlRatio, backgroundRate: noise, policy: policyFor });
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
  return { noise, runs, seed, rings, good, bad, problems };
}
