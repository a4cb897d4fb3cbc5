// A seeded, pure simulation of a ring sequence under the sequential decision rule
// (rollout/sequential-test.ts): devices are assigned to rings at the start, a share of them silent
// (never check in, never offered, never report); the others are offered the release at a fixed
// pace and report, each failing with the release's rate, or brick (never report, a `timed-out`
// failure once their install deadline passes). A control cohort of previous-release devices is
// observed in step with them. With `heartbeats`, each look runs the workflow's two tests
// (rollout/sim-ring-decision.ts, the mirror of rollout/verdict.ts). simulateMany/planPolicy
// (rollout/simulation-plan.ts) turn seeded runs into figures. Seeded PRNG, no Math.random.
import { cachedQuantile, naiveZ } from './naive-z.js';
import { newLookState, simRingLook } from './sim-ring-decision.js';
import { frozenReferenceRate, REFERENCE_MIN_FAILURES } from './verdict.js';
import { sequentialVerdict, splitAlpha, type CohortCounts, type SequentialMethod } from './sequential-test.js';
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
  /** sequential: the SPRT (plus any cap); tripwire: absolute caps only. */
  mode: 'sequential' | 'tripwire';
  /** Smallest harmful effect this ring's test is built for (absolute); required for sequential rings. */
  minEffect?: number;
  /** Miss probability for this ring (defaults to the policy's). */
  beta?: number;
  /** Absolute cap: halt when more of this ring's release devices than this have failed. */
  maxFailures?: number;
  /** Absolute cap: halt when the ring's failure rate is above this once minReports reported. */
  maxFailureRate?: number;
  /** Reports needed before the ring may pass (capped at the ring's devices); default 0 (a tripwire: all it can get). */
  minReports?: number;
  /** Polls the ring bakes before it may pass (bakeTime / pollInterval); default 0. */
  bakePolls?: number;
  /** Polls after which an undecided ring ends (decisionDeadline / pollInterval); default: when no report can come any more. */
  deadlinePolls?: number;
  /** Polls after its offer at which a device with no report counts as a `timed-out` failure (installDeadline / pollInterval); default: never. */
  timeoutPolls?: number;
  /**
   * Sequential ring undecided at its end: hold as inconclusive (default; a person decides) or
   * pass. Passing there keeps α (a halt still needs the halt boundary) and only costs power.
   */
  onUndecided?: 'inconclusive' | 'pass';
}

export interface SimPolicy {
  fleetSize: number;
  rings: SimRing[];
  /** Whole rollout's false-halt budget, split (Bonferroni) over sequential rings × kinds. */
  alpha: number;
  beta: number;
  /** Failure kinds tested per ring (each gets its α share); ignored with heartbeats (the verdict's split applies). */
  kinds: number;
  /** Background rate the effects are stated over, and the one-sample H0 before any control is measured. */
  baselineRate: number;
  /** Release devices offered (and reporting, unless bricked) per poll; installs in flight at a halt = one poll's worth. */
  reportsPerPoll: number;
  /** Cap on control devices observed per release device (default: every device not yet in the release). */
  maxControlRatio?: number;
  /**
   * Devices heartbeat after commit (the workflow's model): each ring with a control runs the
   * one-sample test on install outcomes and the conditional binomial on post-commit health vs the
   * control, α split over the two; without a control one test on both. Off (default): one test on
   * install outcomes, against the control when there is one (the idealised view of the maths).
   */
  heartbeats?: boolean;
  /** sprt (default) or naive: a one-sided fixed-sample z test re-checked at every poll, for comparison only. */
  rule?: 'sprt' | 'naive';
}

export interface SimScenario {
  /** Install failure rate of release devices that report. */
  releaseRate: number;
  /** Failure rate of control devices (their heartbeats with heartbeats on). */
  controlRate: number;
  /** Post-commit health failure rate of release devices in their heartbeats (default controlRate). */
  postCommitRate?: number;
  /** Share of every ring's devices that never check in: never offered, never reporting (default 0). */
  silentShare?: number;
  /** Share of offered devices the release bricks: no report, a `timed-out` failure after timeoutPolls (default 0). */
  brickShare?: number;
}

export type RingOutcome = 'pass' | 'halt' | 'inconclusive';

export interface RingRun {
  decision: RingOutcome;
  polls: number;
  /** Devices of the ring that never check in (never offered). */
  silent: number;
  releaseObserved: number;
  releaseFailures: number;
  /** Of those, bricked devices counted as timed out. */
  timedOut: number;
  /** With heartbeats: the ring's devices heartbeating on the release, and their post-commit failures. */
  heartbeats: CohortCounts;
  controlObserved: number;
  controlFailures: number;
  /** What decided: the sequential test, an absolute cap, every device reported (end), or the decision deadline. */
  by: 'test' | 'cap' | 'end' | 'deadline';
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

export interface RingTest {
  on: 'install' | 'post-commit';
  method: SequentialMethod;
}

export interface RingPlanEntry {
  name: string;
  index: number;
  mode: 'sequential' | 'tripwire';
  /** α share of each of the ring's tests. */
  alpha: number;
  beta: number;
  minEffect: number | null;
  /** Devices this ring adds, and the cumulative target. */
  devices: number;
  target: number;
  controlRatio: number;
  method: SequentialMethod;
  /** The tests the ring runs once its devices report (none: a tripwire, caps only). */
  tests: RingTest[];
}

/** Resolved per-ring parameters: α share, β, control ratio (devices outside the release per ring device), tests. */
export function resolveRings(policy: SimPolicy): RingPlanEntry[] {
  validateSimPolicy(policy);
  const sequential = policy.rings.filter((r) => r.mode === 'sequential').length;
  let previous = 0;
  return policy.rings.map((ring, index) => {
    const target = Math.min(policy.fleetSize, Math.max(previous, ring.target));
    const devices = target - previous;
    previous = target;
    const pool = policy.fleetSize - target;
    const controlRatio = devices > 0 && pool > 0 ? Math.min(policy.maxControlRatio ?? Infinity, pool / devices) : 0;
    let tests: RingTest[] = [];
    let alpha = 0;
    if (ring.mode === 'sequential') {
      if (policy.heartbeats) {
        // As ringVerdict: post-commit health vs the control, or, with none left (the last ring),
        // one-sample against the rate earlier controls showed (frozenReferenceRate).
        tests = [{ on: 'install', method: 'one-sample' }, { on: 'post-commit', method: controlRatio > 0 ? 'conditional-binomial' : 'one-sample' }];
        alpha = splitAlpha(policy.alpha, sequential, 2);
      } else {
        tests = [{ on: 'install', method: controlRatio > 0 ? 'conditional-binomial' : 'one-sample' }];
        alpha = splitAlpha(policy.alpha, sequential, policy.kinds);
      }
    }
    const method: SequentialMethod = ring.mode === 'tripwire' ? 'none' : controlRatio > 0 ? 'conditional-binomial' : 'one-sample';
    return { name: ring.name, index, mode: ring.mode, alpha, beta: ring.beta ?? policy.beta, minEffect: ring.minEffect ?? null, devices, target, controlRatio, method, tests };
  });
}

function validateSimPolicy(policy: SimPolicy): void {
  if (!Number.isInteger(policy.fleetSize) || policy.fleetSize < 1) throw new RangeError('fleetSize must be a whole number ≥ 1');
  if (!Number.isInteger(policy.reportsPerPoll) || policy.reportsPerPoll < 1) throw new RangeError('reportsPerPoll must be a whole number ≥ 1');
  if (policy.rings.length === 0) throw new RangeError('at least one ring');
  for (const ring of policy.rings) {
    if (ring.mode === 'sequential' && !(ring.minEffect && ring.minEffect > 0)) throw new RangeError(`ring ${ring.name}: a sequential ring needs minEffect > 0`);
    for (const key of ['bakePolls', 'deadlinePolls', 'timeoutPolls', 'minReports'] as const) {
      const v = ring[key];
      if (v !== undefined && !(Number.isInteger(v) && v >= 0)) throw new RangeError(`ring ${ring.name}: ${key} must be a whole number ≥ 0, got ${v}`);
    }
    if (ring.timeoutPolls === 0) throw new RangeError(`ring ${ring.name}: timeoutPolls must be ≥ 1`);
  }
}

export function validateScenario(scenario: SimScenario): void {
  const rates = { releaseRate: scenario.releaseRate, controlRate: scenario.controlRate, postCommitRate: scenario.postCommitRate ?? 0, brickShare: scenario.brickShare ?? 0 };
  for (const [name, v] of Object.entries(rates)) if (!(v >= 0 && v <= 1)) throw new RangeError(`${name} must be in [0, 1], got ${v}`);
  const silent = scenario.silentShare ?? 0;
  if (!(silent >= 0 && silent < 1)) throw new RangeError(`silentShare must be in [0, 1), got ${silent}`);
}


/** One seeded rollout through every ring. Pure: the same arguments give the same run. */
export function simulateRollout(policy: SimPolicy, scenario: SimScenario, seed: number): RolloutRun {
  const rings = resolveRings(policy);
  validateScenario(scenario);
  const rand = mulberry32(seed);
  const silentShare = scenario.silentShare ?? 0;
  const sequentialRings = rings.filter((r) => r.mode === 'sequential').length;
  const runs: RingRun[] = [];
  let polls = 0;
  let exposedBefore = 0;
  // Control observations of earlier rings: the reference rate, frozen before each ring opens.
  let pooledControlObserved = 0;
  let pooledControlFailures = 0;
  for (const ring of rings) {
    const pool = policy.fleetSize - ring.target;
    // Assigned at the start: a silent device is never offered and never heartbeats (no control either).
    let silent = 0;
    if (silentShare > 0) for (let i = 0; i < ring.devices; i++) if (rand() < silentShare) silent++;
    // Without heartbeats the one test runs against the pooled control rate; with them, as the workflow
    // does, only the post-commit test of a ring with no control left uses it (frozen when the ring opens).
    const pooled = { observed: pooledControlObserved, failures: pooledControlFailures };
    const referenceRate = !policy.heartbeats && pooledControlFailures >= REFERENCE_MIN_FAILURES ? pooledControlFailures / pooledControlObserved : policy.baselineRate;
    const postCommitReferenceRate = policy.heartbeats && ring.mode === 'sequential' ? frozenReferenceRate(pooled, policy.baselineRate, ring.minEffect!) : undefined;
    const run = runRing({
      policy, scenario, ring, spec: policy.rings[ring.index]!, rand, sequentialRings, referenceRate, postCommitReferenceRate, silent,
      controlPool: silentShare > 0 ? Math.floor(pool * (1 - silentShare)) : pool,
    });
    polls += run.polls;
    pooledControlObserved += run.controlObserved;
    pooledControlFailures += run.controlFailures;
    const { offered, ...ringRun } = run;
    runs.push(ringRun);
    const active = ring.devices - silent;
    if (run.decision !== 'pass') {
      const exposure = exposedBefore + Math.min(active, offered + policy.reportsPerPoll);
      return { outcome: run.decision === 'halt' ? 'halted' : 'inconclusive', ring: ring.index, polls, exposure, rings: runs };
    }
    exposedBefore += active;
  }
  return { outcome: 'completed', ring: rings.length - 1, polls, exposure: exposedBefore, rings: runs };
}

interface RingContext {
  policy: SimPolicy;
  scenario: SimScenario;
  ring: RingPlanEntry;
  spec: SimRing;
  rand: () => number;
  sequentialRings: number;
  referenceRate: number;
  postCommitReferenceRate?: number;
  silent: number;
  /** Previous-release devices outside the release that heartbeat (not silent). */
  controlPool: number;
}

/** One ring, poll by poll, until it passes, halts, or ends undecided (all reported, or its deadline). */
function runRing(c: RingContext): RingRun & { offered: number } {
  const { policy, scenario, ring, spec, rand } = c;
  const active = ring.devices - c.silent;
  const brickShare = scenario.brickShare ?? 0;
  const postCommitRate = scenario.postCommitRate ?? scenario.controlRate;
  const heartbeats = policy.heartbeats === true;
  const bakePolls = spec.bakePolls ?? 0;
  const deadline = spec.deadlinePolls ?? Infinity;
  const timeout = spec.timeoutPolls ?? Infinity;
  // As the verdict: a ring needs min(minReports, assigned) reports, never more than exist.
  const needed = Math.min(spec.minReports ?? 0, ring.devices);
  const look = newLookState();
  const timeouts: number[] = []; // polls at which offered bricked devices time out, ascending
  let next = 0; // first timeout not yet counted
  let offered = 0, nR = 0, kR = 0, timedOut = 0, hbN = 0, hbK = 0, nC = 0, kC = 0, polls = 0;
  let passed = false; // the test reached pass at some look (kept, as the workflow keeps it)
  if (ring.devices === 0) return { decision: 'pass', by: 'end', polls: 0, offered: 0, silent: 0, releaseObserved: 0, releaseFailures: 0, timedOut: 0, heartbeats: { observed: 0, failures: 0 }, controlObserved: 0, controlFailures: 0 };
  const end = (decision: RingOutcome, by: RingRun['by'], at = polls) => ({
    decision, by, polls: at, offered, silent: c.silent, releaseObserved: nR, releaseFailures: kR, timedOut,
    heartbeats: { observed: hbN, failures: hbK }, controlObserved: nC, controlFailures: kC,
  });
  for (;;) {
    polls++;
    const add = Math.min(policy.reportsPerPoll, active - offered);
    for (let i = 0; i < add; i++) {
      if (brickShare > 0 && rand() < brickShare) {
        if (timeout !== Infinity) timeouts.push(polls + timeout);
        continue;
      }
      nR++;
      if (rand() < scenario.releaseRate) kR++;
      else if (heartbeats) {
        hbN++;
        if (rand() < postCommitRate) hbK++;
      }
    }
    offered += add;
    while (next < timeouts.length && timeouts[next]! <= polls) {
      next++;
      nR++;
      kR++;
      timedOut++;
    }
    if (ring.controlRatio > 0) {
      const wantC = Math.min(c.controlPool, Math.floor(ring.controlRatio * nR));
      for (let i = nC; i < wantC; i++) if (rand() < scenario.controlRate) kC++;
      nC = Math.max(nC, wantC);
    }
    // Nothing more can come: every device that checks in was offered and reported or timed out.
    const frozen = offered === active && next === timeouts.length;
    if (spec.maxFailures !== undefined && kR > spec.maxFailures) return end('halt', 'cap');
    if (spec.maxFailureRate !== undefined && nR > 0 && nR >= needed && kR / nR > spec.maxFailureRate) return end('halt', 'cap');
    let enough: boolean;
    if (ring.mode === 'tripwire') {
      enough = spec.minReports !== undefined ? nR >= needed : frozen;
    } else {
      const decision = heartbeats
        ? simRingLook({ install: { observed: nR, failures: kR }, heartbeats: { observed: hbN, failures: hbK }, postCommitFailed: hbK, control: nC > 0 ? { observed: nC, failures: kC } : null, alpha: policy.alpha, sequentialRings: c.sequentialRings, beta: ring.beta, minEffect: ring.minEffect!, baselineRate: policy.baselineRate, postCommitReferenceRate: c.postCommitReferenceRate }, look).decision
        : decide(policy.rule ?? 'sprt', { observed: nR, failures: kR }, ring.controlRatio > 0 ? { observed: nC, failures: kC } : null, { alpha: ring.alpha, beta: ring.beta, minEffect: ring.minEffect!, baselineRate: policy.baselineRate }, c.referenceRate, frozen);
      if (decision === 'halt') return end('halt', 'test');
      if (decision === 'pass') passed = true;
      enough = passed && nR >= needed;
    }
    const by = ring.mode === 'tripwire' ? 'end' : 'test';
    if (enough && polls >= bakePolls) return end('pass', by);
    if (polls >= deadline) return end(spec.onUndecided ?? 'inconclusive', 'deadline');
    if (frozen) {
      // The counts stay as they are: a passed ring passes once baked, an undecided one ends at its deadline.
      if (enough) return end('pass', by, Math.min(bakePolls, deadline));
      return deadline === Infinity ? end(spec.onUndecided ?? 'inconclusive', 'end') : end(spec.onUndecided ?? 'inconclusive', 'deadline', deadline);
    }
    if (offered === active) {
      // Only timeouts still to come: skip the polls in between, where nothing changes.
      const event = Math.min(timeouts[next]!, enough ? bakePolls : Infinity, deadline);
      polls = Math.max(polls, event - 1);
    }
  }
}

type Counts = { observed: number; failures: number };
type Params = { alpha: number; beta: number; minEffect: number; baselineRate: number };

function decide(rule: 'sprt' | 'naive', release: Counts, control: Counts | null, params: Params, referenceRate: number, last: boolean): 'continue' | 'halt' | 'pass' {
  if (rule === 'sprt') return sequentialVerdict({ release, control, policy: params, referenceRate }).decision;
  const z = naiveZ(release, control, referenceRate);
  if (z >= cachedQuantile(1 - params.alpha)) return 'halt';
  return last ? 'pass' : 'continue';
}
