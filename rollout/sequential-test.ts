// A sequential test per failure kind: is the release cohort failing more than the control
// cohort (devices of the same rollout still on the previous release, same window)? Safe to
// evaluate at every poll: Wald's SPRT keeps its error rates whatever the number of looks.
// Pure and deterministic; the maths is in docs/rollout-decision-rule.md.
//
// With a control: Wald's SPRT on the conditional binomial. Given the failures seen so far, under
// H0 (same rate in both cohorts, whatever that rate is) each failure fell in the release cohort
// with probability π0 = n_r / (n_r + n_c); under H1 (the release multiplies the risk by RR) with
// π1 = RR·n_r / (RR·n_r + n_c). RR is fixed in advance from the stated effect over a reference
// rate: RR = (p_ref + δ) / p_ref. The false-halt bound needs no estimate of the background rate.
// Without a control (nothing left on the previous release, e.g. the last ring): Wald's one-sample
// binomial SPRT, H0 p = p_ref against H1 p = p_ref + δ.

export type SequentialDecision = 'continue' | 'halt' | 'pass';
export type SequentialMethod = 'conditional-binomial' | 'one-sample' | 'none';

export interface CohortCounts {
  /** Devices whose outcome for this failure kind is known (reported in the window). */
  observed: number;
  /** Of those, devices that failed with this kind. */
  failures: number;
}

export interface SequentialPolicy {
  /** Probability of halting a release that is as good as the control (this test's share of α). */
  alpha: number;
  /** Probability of passing a release that is worse by the smallest harmful effect. */
  beta: number;
  /** Smallest harmful effect, absolute: 0.03 = 3 percentage points over the control's rate. */
  minEffect: number;
  /** Background failure rate the effect is stated over (0 < p < 1), and the one-sample H0 without a control. */
  baselineRate: number;
}

export interface SequentialInput {
  release: CohortCounts;
  /** Previous-release devices of the same rollout and window; absent or empty = no control. */
  control?: CohortCounts | null;
  policy: SequentialPolicy;
  /**
   * Reference background rate, frozen before this ring opened (e.g. the control's pooled rate in
   * earlier rings); defaults to policy.baselineRate. Never pass a rate computed from this ring's
   * own counts: the boundaries are only valid for an alternative fixed in advance.
   */
  referenceRate?: number;
}

export interface SequentialResult {
  decision: SequentialDecision;
  method: SequentialMethod;
  /** Log-likelihood ratio ln(L(H1)/L(H0)): halt at ≥ haltBoundary, pass at ≤ passBoundary. */
  statistic: number;
  /** ln((1−β)/α). */
  haltBoundary: number;
  /** ln(β/(1−α)). */
  passBoundary: number;
  /** Observed failure rates (NaN when nothing observed). */
  releaseRate: number;
  controlRate: number;
  /** releaseRate − controlRate (or − referenceRate without a control), in absolute terms. */
  excess: number;
  /** Background rate the alternative is built on, and the alternative's relative risk. */
  referenceRate: number;
  relativeRisk: number;
  /** Conditional binomial only: share of failures expected in the release cohort under H0 / H1. */
  pi0: number | null;
  pi1: number | null;
  /** How many more of the observed release devices would have to be failures (same counts otherwise) to halt now. */
  releaseFailuresToHalt: number | null;
  /** One line for a status display. */
  reason: string;
}

export function haltBoundary(alpha: number, beta: number): number {
  return Math.log((1 - beta) / alpha);
}

export function passBoundary(alpha: number, beta: number): number {
  return Math.log(beta / (1 - alpha));
}

export function validatePolicy(policy: SequentialPolicy): void {
  const { alpha, beta, minEffect, baselineRate } = policy;
  if (!(alpha > 0 && alpha < 0.5)) throw new RangeError(`alpha must be in (0, 0.5), got ${alpha}`);
  if (!(beta > 0 && beta < 0.5)) throw new RangeError(`beta must be in (0, 0.5), got ${beta}`);
  if (!(baselineRate > 0 && baselineRate < 1)) throw new RangeError(`baselineRate must be in (0, 1), got ${baselineRate}`);
  if (!(minEffect > 0 && baselineRate + minEffect < 1)) throw new RangeError(`minEffect must be > 0 with baselineRate + minEffect < 1, got ${minEffect}`);
}

function validateCounts(name: string, c: CohortCounts): void {
  if (!Number.isInteger(c.observed) || c.observed < 0) throw new RangeError(`${name}.observed must be a whole number ≥ 0, got ${c.observed}`);
  if (!Number.isInteger(c.failures) || c.failures < 0 || c.failures > c.observed) {
    throw new RangeError(`${name}.failures must be a whole number in [0, observed=${c.observed}], got ${c.failures}`);
  }
}

/** Relative risk of the alternative: (p_ref + δ) / p_ref. */
export function alternativeRelativeRisk(referenceRate: number, minEffect: number): number {
  return (referenceRate + minEffect) / referenceRate;
}

/** Per-failure log-likelihood increments of the conditional binomial for a control/release ratio r = n_c/n_r. */
export function conditionalIncrements(controlRatio: number, relativeRisk: number): { pi0: number; pi1: number; releaseFailure: number; controlFailure: number } {
  const pi0 = 1 / (1 + controlRatio);
  const pi1 = relativeRisk / (relativeRisk + controlRatio);
  return { pi0, pi1, releaseFailure: Math.log(pi1 / pi0), controlFailure: Math.log((1 - pi1) / (1 - pi0)) };
}

/** Per-device log-likelihood increments of the one-sample SPRT, H0 p0 vs H1 p1. */
export function oneSampleIncrements(p0: number, p1: number): { failure: number; success: number } {
  return { failure: Math.log(p1 / p0), success: Math.log((1 - p1) / (1 - p0)) };
}

/** The decision for one failure kind at one look. Throws RangeError on impossible counts or policy. */
export function sequentialDecision(input: SequentialInput): SequentialResult {
  return evaluate(input, true);
}

/** The same decision without the status line (for simulations that look thousands of times). */
export function sequentialVerdict(input: SequentialInput): Omit<SequentialResult, 'reason'> {
  return evaluate(input, false);
}

function evaluate(input: SequentialInput, explain: boolean): SequentialResult {
  const { release, policy } = input;
  validatePolicy(policy);
  validateCounts('release', release);
  const control = input.control && input.control.observed > 0 ? input.control : null;
  if (input.control) validateCounts('control', input.control);
  const referenceRate = input.referenceRate ?? policy.baselineRate;
  if (!(referenceRate > 0 && referenceRate + policy.minEffect < 1)) throw new RangeError(`referenceRate must be in (0, 1 − minEffect), got ${referenceRate}`);
  const relativeRisk = alternativeRelativeRisk(referenceRate, policy.minEffect);
  const upper = haltBoundary(policy.alpha, policy.beta);
  const lower = passBoundary(policy.alpha, policy.beta);
  const releaseRate = release.observed > 0 ? release.failures / release.observed : NaN;
  const controlRate = control ? control.failures / control.observed : NaN;
  const base = { haltBoundary: upper, passBoundary: lower, releaseRate, controlRate, referenceRate, relativeRisk };

  if (release.observed === 0) {
    return { ...base, decision: 'continue', method: control ? 'conditional-binomial' : 'one-sample', statistic: 0, excess: NaN, pi0: null, pi1: null, releaseFailuresToHalt: null, reason: 'no release device observed yet' };
  }

  let statistic: number;
  let perReleaseFailure: number;
  let method: SequentialMethod;
  let pi0: number | null = null;
  let pi1: number | null = null;
  let excess: number;
  if (control) {
    method = 'conditional-binomial';
    const inc = conditionalIncrements(control.observed / release.observed, relativeRisk);
    pi0 = inc.pi0;
    pi1 = inc.pi1;
    // 0 · ln(...) is 0 even when a log is finite but large; no failures = no evidence either way.
    statistic = release.failures * inc.releaseFailure + control.failures * inc.controlFailure;
    perReleaseFailure = inc.releaseFailure;
    excess = releaseRate - controlRate;
  } else {
    method = 'one-sample';
    const inc = oneSampleIncrements(referenceRate, referenceRate + policy.minEffect);
    statistic = release.failures * inc.failure + (release.observed - release.failures) * inc.success;
    perReleaseFailure = inc.failure - inc.success;
    excess = releaseRate - referenceRate;
  }

  const decision: SequentialDecision = statistic >= upper ? 'halt' : statistic <= lower ? 'pass' : 'continue';
  const releaseFailuresToHalt = decision === 'halt' ? 0 : Math.max(1, Math.ceil((upper - statistic) / perReleaseFailure - 1e-12));
  if (!explain) return { ...base, decision, method, statistic, excess, pi0, pi1, releaseFailuresToHalt, reason: '' };
  const pp = (x: number) => `${(x * 100).toFixed(2)}%`;
  const against = control ? `control ${pp(controlRate)} (${control.failures}/${control.observed})` : `reference ${pp(referenceRate)} (no control)`;
  const verdict = decision === 'halt' ? 'halt: release failing more than' : decision === 'pass' ? 'pass: release no worse than' : 'continue: undecided vs';
  const reason = `${verdict} ${against}; release ${pp(releaseRate)} (${release.failures}/${release.observed}); LLR ${statistic.toFixed(2)} in (${lower.toFixed(2)}, ${upper.toFixed(2)})`;
  return { ...base, decision, method, statistic, excess, pi0, pi1, releaseFailuresToHalt, reason };
}

/** Bonferroni: each (sequential ring × failure kind) test gets total / (rings × kinds). */
export function splitAlpha(totalAlpha: number, rings: number, kinds: number): number {
  if (!(totalAlpha > 0 && totalAlpha < 1)) throw new RangeError(`total alpha must be in (0, 1), got ${totalAlpha}`);
  if (!Number.isInteger(rings) || rings < 1 || !Number.isInteger(kinds) || kinds < 1) throw new RangeError('rings and kinds must be whole numbers ≥ 1');
  return totalAlpha / (rings * kinds);
}

export interface RingCapabilityInput {
  /** Release devices this ring adds (the cohort the ring's test watches). */
  ringSize: number;
  /** Control devices observed per release device (n_c / n_r); 0 = no control, one-sample test. */
  controlRatio: number;
  /** Background failure rate expected in both cohorts. */
  backgroundRate: number;
  policy: SequentialPolicy;
}

export interface RingCapability {
  method: SequentialMethod;
  /** Expected LLR drift per release device observed, for a good release (< 0) and one at +minEffect (> 0). */
  driftGood: number;
  driftBad: number;
  /** Wald's approximate expected release devices to reach pass (good release) / halt (bad at +minEffect). */
  expectedDevicesToPass: number;
  expectedDevicesToHalt: number;
  /** Whether the expected path reaches each boundary within the ring. */
  canPass: boolean;
  canHalt: boolean;
  /** Smallest ring size whose expected path reaches pass and halt (both): below it the ring is a tripwire. */
  minRingSize: number;
  /** Fewest release failures that halt outright at full ring size with no control failure (null: none can). */
  minFailuresToHalt: number | null;
  /** Neither sequential verdict is dependable: apply absolute caps only. */
  tripwire: boolean;
}

/**
 * Can a ring of this size ever decide? Uses Wald's approximations: the LLR drifts by the expected
 * increment per observed device, and the expected number of devices to a boundary is
 * boundary / drift (ignoring overshoot). The seeded simulation gives the exact probabilities.
 */
export function ringCapability(input: RingCapabilityInput): RingCapability {
  const { ringSize, controlRatio, backgroundRate: p0, policy } = input;
  validatePolicy(policy);
  if (!(ringSize >= 0) || !(controlRatio >= 0)) throw new RangeError('ringSize and controlRatio must be ≥ 0');
  if (!(p0 > 0 && p0 + policy.minEffect < 1)) throw new RangeError(`backgroundRate must be in (0, 1 − minEffect), got ${p0}`);
  const rr = alternativeRelativeRisk(p0, policy.minEffect);
  const p1 = p0 + policy.minEffect;
  let driftGood: number;
  let driftBad: number;
  let perReleaseFailure: number;
  let method: SequentialMethod;
  if (controlRatio > 0) {
    method = 'conditional-binomial';
    const inc = conditionalIncrements(controlRatio, rr);
    // Per release device: its own failure chance, plus controlRatio control devices at p0.
    driftGood = p0 * inc.releaseFailure + controlRatio * p0 * inc.controlFailure;
    driftBad = p1 * inc.releaseFailure + controlRatio * p0 * inc.controlFailure;
    perReleaseFailure = inc.releaseFailure;
  } else {
    method = 'one-sample';
    const inc = oneSampleIncrements(p0, p1);
    driftGood = p0 * inc.failure + (1 - p0) * inc.success;
    driftBad = p1 * inc.failure + (1 - p1) * inc.success;
    perReleaseFailure = inc.failure - inc.success;
  }
  const upper = haltBoundary(policy.alpha, policy.beta);
  const lower = passBoundary(policy.alpha, policy.beta);
  const expectedDevicesToPass = driftGood < 0 ? lower / driftGood : Infinity;
  const expectedDevicesToHalt = driftBad > 0 ? upper / driftBad : Infinity;
  const canPass = ringSize >= expectedDevicesToPass;
  const canHalt = ringSize >= expectedDevicesToHalt;
  const minRingSize = Math.ceil(Math.max(expectedDevicesToPass, expectedDevicesToHalt));
  const need = Math.ceil(upper / perReleaseFailure - 1e-12);
  const minFailuresToHalt = method === 'one-sample'
    ? smallestOneSampleHalt(ringSize, p0, p1, upper)
    : need <= ringSize ? need : null;
  return { method, driftGood, driftBad, expectedDevicesToPass, expectedDevicesToHalt, canPass, canHalt, minRingSize, minFailuresToHalt, tripwire: !(canPass && canHalt) };
}

/** One sample: successes pull the LLR down, so the earliest halt is k failures among the first k devices. */
function smallestOneSampleHalt(n: number, p0: number, p1: number, upper: number): number | null {
  const k = Math.ceil(upper / Math.log(p1 / p0) - 1e-12);
  return k <= n ? k : null;
}

/**
 * Smallest design effect δ (absolute) for which a ring of this size expects to reach both
 * boundaries: the effect it can detect with power ≈ 1−β. Infinity when even δ → 1 − p0 cannot.
 */
export function detectableEffect(input: Omit<RingCapabilityInput, 'policy'> & { policy: Omit<SequentialPolicy, 'minEffect'> }): number {
  const { backgroundRate: p0 } = input;
  const fits = (delta: number) => !ringCapability({ ...input, policy: { ...input.policy, minEffect: delta } }).tripwire;
  let hi = (1 - p0) * 0.999;
  if (!fits(hi)) return Infinity;
  let lo = 1e-6;
  if (fits(lo)) return lo;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (fits(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}
