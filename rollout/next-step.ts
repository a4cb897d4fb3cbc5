// The rollout's next step, as a pure function: given its progress and what the last step
// observed (a plan, a ring's health, devices still on a rolled-back release, a wait that ended),
// it returns the new progress, the commands to run (activities, in order) and what to await next.
// The workflow only interprets steps, so every decision is here and unit-tested.
import { parseDuration } from './duration.js';
import { msUntilWindow } from './maintenance-window.js';
import { exposure, isFinalRolloutState, withDecision } from './progress.js';
import type { Decision, RingStatus, RolloutPlan, RolloutProgress, RolloutRequest } from './types.js';
import { frozenReferenceRate, ringVerdict, sequentialRingCount, type RingHealth } from './verdict.js';

/** What the workflow learned from the last awaited action. */
export type Observation =
  | { kind: 'started' }
  /** An operator control changed the progress while the step's commands ran: decide again. */
  | { kind: 'controlled' }
  | { kind: 'planned'; plan: RolloutPlan }
  | { kind: 'ring-opened' }
  | { kind: 'health'; health: RingHealth }
  /** Reading the ring's health failed (after the activity's own retries). */
  | { kind: 'health-error'; error: string }
  | { kind: 'remaining'; devices: number }
  /** A wait ended: its condition held, its timer fired, or an abort came. */
  | { kind: 'woke' };

/** Activities run in order before the next await; none returns anything the rollout needs. */
export type Command =
  | { kind: 'record'; decision: Decision }
  | { kind: 'halt'; reason: string }
  | { kind: 'rollback'; reason: string }
  | { kind: 'abort'; reason: string }
  | { kind: 'finish' }
  | { kind: 'close-rolled-back' };

/** What a wait waits for, besides an abort (which ends every wait). */
export type WaitFor = 'abort' | 'resume' | 'approval' | 'unpaused' | 'hold-released';

export type Await =
  | { kind: 'prepare' }
  | { kind: 'open-ring'; ring: string }
  | { kind: 'read-health'; ring: string }
  | { kind: 'count-remaining' }
  /** `continueAsNew`: a safe point to continue as a new run first, if the history is long. */
  | { kind: 'wait'; for: WaitFor; timeoutMs?: number; continueAsNew?: boolean }
  | { kind: 'end' };

export interface Step {
  progress: RolloutProgress;
  commands: Command[];
  next: Await;
}

export interface StepContext {
  request: RolloutRequest;
  /** Workflow time (epoch ms) of this step. */
  now: number;
}

/** Whether a wait is over, judged on the current progress (operator controls change it meanwhile). */
export function waitIsOver(p: RolloutProgress, wait: Extract<Await, { kind: 'wait' }>): boolean {
  if (p.abortRequested) return true;
  switch (wait.for) {
    case 'abort':
      return false;
    case 'resume':
      return p.resumeRequested;
    case 'approval':
      return p.waitingApprovalFor !== undefined && p.approvedRings.includes(p.waitingApprovalFor);
    case 'unpaused':
      return !p.paused;
    case 'hold-released':
      return !p.hold || p.hold.approved === true;
  }
}

export function nextStep(progress: RolloutProgress, observation: Observation, ctx: StepContext): Step {
  const step = new StepBuilder(progress, ctx);
  switch (observation.kind) {
    case 'started':
    case 'controlled':
      return step.continue();
    case 'planned':
      return step.planned(observation.plan);
    case 'ring-opened':
      return step.ringOpened();
    case 'health':
      return step.health(observation.health);
    case 'health-error':
      return step.healthError(observation.error);
    case 'remaining':
      return step.remaining(observation.devices);
    case 'woke':
      return step.woke();
  }
}

/** Builds one step: a copy of the progress to change, the commands it needs, then what to await. */
class StepBuilder {
  private readonly p: RolloutProgress;
  private readonly commands: Command[] = [];

  constructor(
    progress: RolloutProgress,
    private readonly ctx: StepContext,
  ) {
    this.p = { ...progress, rings: progress.rings.map((r) => ({ ...r })) };
  }

  private get policy() {
    return this.ctx.request.policy;
  }

  private get ring(): RingStatus {
    return this.p.rings[this.p.ringIndex]!;
  }

  private get pollMs(): number {
    return parseDuration(this.policy.pollInterval);
  }

  /** Notes the decision and records it through an activity, so it and its figures are in the history. */
  private decide(decision: Omit<Decision, 'at'>): void {
    this.p.decisions = withDecision(this.p.decisions, decision, this.ctx.now);
    this.commands.push({ kind: 'record', decision: this.p.decisions[this.p.decisions.length - 1]! });
  }

  private done(next: Await): Step {
    return { progress: this.p, commands: this.commands, next };
  }

  planned(plan: RolloutPlan): Step {
    this.p.plan = plan;
    this.p.rings = this.p.rings.map((ring, i) => ({ ...ring, assigned: plan.ringSizes[i] ?? 0 }));
    this.p.state = 'running';
    this.decide({ action: 'plan', reason: `${plan.fleetSize} devices targeted, rings ${this.p.rings.map((r) => `${r.name}=${r.assigned}`).join(' ')}`, figures: plan });
    return this.continue();
  }

  ringOpened(): Step {
    const ring = this.ring;
    ring.state = 'baking';
    ring.openedAt = new Date(this.ctx.now).toISOString();
    ring.testPassed = undefined;
    ring.testsPassed = undefined;
    const deadline = this.policy.rings[this.p.ringIndex]!.decisionDeadline;
    ring.deadlineAt = deadline ? new Date(this.ctx.now + parseDuration(deadline)).toISOString() : undefined;
    this.p.ringOpenedAt = this.ctx.now;
    const stats = this.policy.statistics;
    // Frozen now, so what this ring shows cannot move its own yardstick.
    ring.postCommitReference = stats.mode === 'sequential' ? frozenReferenceRate(this.p.controlPool, stats.baselineRate, this.policy.rings[this.p.ringIndex]!.minEffect ?? stats.minEffect) : undefined;
    this.decide({ ring: ring.name, action: 'open-ring', reason: `${ring.assigned} devices may now get ${this.ctx.request.releaseVersion}` });
    return this.continue();
  }

  /** Bake: the ring's verdict from its aggregate health; pass moves on, breach halts or rolls back. */
  health(health: RingHealth): Step {
    const ring = this.ring;
    const ringPolicy = this.policy.rings[this.p.ringIndex]!;
    const bakedMs = this.ctx.now - (this.p.ringOpenedAt ?? this.ctx.now);
    this.p.healthErrors = 0;
    const verdict = ringVerdict({
      ring: ringPolicy,
      health,
      bakedMs,
      bakeTimeMs: parseDuration(ringPolicy.bakeTime),
      statistics: this.policy.statistics,
      sequentialRings: sequentialRingCount(this.policy.rings),
      testPassed: ring.testPassed,
      testsPassed: ring.testsPassed,
      // The control cohort from heartbeats (same rollout, previous release, same window), if read.
      control: health.control ?? null,
      postCommitReferenceRate: ring.postCommitReference,
    });
    if (verdict.figures.sequential?.passed) ring.testPassed = true;
    if (verdict.figures.testsPassed) ring.testsPassed = { install: verdict.figures.testsPassed.install || undefined, postCommit: verdict.figures.testsPassed.postCommit || undefined };
    const changed = ring.verdict?.verdict !== verdict.verdict || ring.verdict?.reason !== verdict.reason;
    ring.health = health;
    ring.verdict = verdict;
    const figures = { health, verdict };
    if (verdict.verdict === 'pass') return this.passRing(verdict.reason, figures);
    if (verdict.verdict === 'breach') {
      ring.state = 'breached';
      return this.breach(verdict.reason, figures);
    }
    if (ringPolicy.decisionDeadline && bakedMs >= parseDuration(ringPolicy.decisionDeadline)) {
      if (ringPolicy.atDeadline === 'pass') {
        return this.passRing(`undecided at its decision deadline (${ringPolicy.decisionDeadline}); the policy passes it: ${verdict.reason}`, figures);
      }
      return this.hold('inconclusive', `undecided ${ringPolicy.decisionDeadline} after the ring opened (its decision deadline): ${verdict.reason}`, figures);
    }
    if (changed) this.decide({ ring: ring.name, action: 'wait', reason: verdict.reason, figures });
    return this.done({ kind: 'wait', for: 'abort', timeoutMs: this.pollMs, continueAsNew: true });
  }

  /** A failed health read: poll again, or hold once the policy's healthErrorLimit is reached in a row. */
  healthError(error: string): Step {
    const errors = (this.p.healthErrors ?? 0) + 1;
    this.p.healthErrors = errors;
    if (errors >= this.policy.healthErrorLimit) {
      return this.hold('health-errors', `${errors} health reads in a row failed (limit ${this.policy.healthErrorLimit}); last: ${error}`, { errors, error });
    }
    return this.done({ kind: 'wait', for: 'abort', timeoutMs: this.pollMs });
  }

  /** Hold the rollout for a person: approve continues, abort aborts. Never left running undecided. */
  private hold(reason: 'inconclusive' | 'health-errors', detail: string, figures: unknown): Step {
    const ring = this.ring;
    this.p.hold = { reason, ring: ring.name, detail, since: new Date(this.ctx.now).toISOString() };
    this.p.waitingApprovalFor = ring.name;
    this.p.state = 'waiting-approval';
    this.decide({ ring: ring.name, action: 'hold', reason: `${reason}: ${detail}; approve to continue, or abort`, figures });
    return this.done({ kind: 'wait', for: 'hold-released' });
  }

  /** A person approved a hold: an inconclusive ring counts as passed; after health errors, health is read again. */
  private releaseHold(): Step {
    const hold = this.p.hold!;
    const ring = this.ring;
    this.p.hold = undefined;
    this.p.waitingApprovalFor = undefined;
    this.p.state = 'running';
    this.p.healthErrors = 0;
    if (hold.reason === 'inconclusive') return this.passRing('inconclusive ring passed by a person');
    this.decide({ ring: ring.name, action: 'resume-health', reason: 'health is read again' });
    return this.continue();
  }

  /** The ring passed: its control joins the pool later rings freeze their reference from, and the next ring is up. */
  private passRing(reason: string, figures?: unknown): Step {
    const ring = this.ring;
    ring.state = 'passed';
    const control = ring.health?.control;
    if (control && control.observed > 0) {
      const pool = this.p.controlPool ?? { observed: 0, failures: 0 };
      this.p.controlPool = { observed: pool.observed + control.observed, failures: pool.failures + control.failures };
    }
    this.decide({ ring: ring.name, action: 'pass', reason, ...(figures !== undefined ? { figures } : {}) });
    this.p.ringIndex++;
    return this.continue();
  }

  private breach(reason: string, figures: unknown): Step {
    const { plan } = this.p;
    const release = this.ctx.request.releaseVersion;
    const onBreach = this.policy.rings[this.p.ringIndex]!.onBreach;
    if (onBreach === 'rollback' && plan!.rollbackAllowed) {
      this.commands.push({ kind: 'rollback', reason });
      this.decide({ ring: this.ring.name, action: 'rollback', reason: `breach: ${reason}; devices on ${release} return to ${plan!.previousVersion}`, figures });
      this.p.state = 'rolling-back';
      return this.continue();
    }
    const why = onBreach === 'rollback' ? `breach: ${reason}; rollback not allowed (${plan!.rollbackBlockedReason}), halting instead` : `breach: ${reason}`;
    this.commands.push({ kind: 'halt', reason });
    this.decide({ ring: this.ring.name, action: 'halt', reason: why, figures });
    this.p.state = 'halted';
    return this.continue();
  }

  /** Rolling back: done when every exposed device has left the release, or a person stops the wait. */
  remaining(devices: number): Step {
    if (devices === 0) {
      this.commands.push({ kind: 'close-rolled-back' });
      this.decide({ action: 'rolled-back', reason: `every exposed device is back on ${this.p.plan!.previousVersion}` });
    } else if (this.p.abortRequested) {
      this.decide({ action: 'rolled-back', reason: `stopped waiting with ${devices} devices still on ${this.ctx.request.releaseVersion}` });
    } else {
      return this.done({ kind: 'wait', for: 'abort', timeoutMs: this.pollMs });
    }
    this.p.state = 'rolled-back';
    return this.done({ kind: 'end' });
  }

  /** A wait ended. A bake poll that ends reads the ring's health (unless paused); others re-evaluate. */
  woke(): Step {
    if (!this.p.abortRequested && this.p.plan && this.p.ringIndex < this.p.rings.length && this.ring.state === 'baking') {
      if (this.p.state === 'running') {
        if (!this.p.paused) return this.done({ kind: 'read-health', ring: this.ring.name });
        this.p.state = 'paused';
        return this.done({ kind: 'wait', for: 'unpaused' });
      }
      if (this.p.state === 'paused') {
        if (this.p.paused) return this.done({ kind: 'wait', for: 'unpaused' });
        this.p.state = 'running';
      }
    }
    return this.continue();
  }

  /** Where the progress stands, what comes next. */
  continue(): Step {
    const p = this.p;
    if (isFinalRolloutState(p.state)) return this.done({ kind: 'end' });
    if (p.state === 'rolling-back') return this.done({ kind: 'count-remaining' });
    if (p.abortRequested) return this.abort(p.abortRequested);
    if (!p.plan) return this.done({ kind: 'prepare' });
    if (p.ringIndex >= p.rings.length) return this.finish();
    const ring = this.ring;

    if (p.hold) {
      if (!p.hold.approved) return this.done({ kind: 'wait', for: 'hold-released' });
      return this.releaseHold();
    }

    if (p.state === 'halted') {
      // Halted: hold until a person resumes (retry the ring) or aborts.
      if (!p.resumeRequested) return this.done({ kind: 'wait', for: 'resume' });
      p.resumeRequested = false;
      p.ringOpenedAt = undefined;
      p.state = 'running';
      ring.state = 'pending';
      this.decide({ ring: ring.name, action: 'resume-after-halt', reason: 'operator resumed: the ring is offered again and re-evaluated' });
    }

    switch (ring.state) {
      case 'waiting-approval':
        if (!p.approvedRings.includes(ring.name)) return this.done({ kind: 'wait', for: 'approval' });
        p.waitingApprovalFor = undefined;
        ring.state = 'pending';
        p.state = 'running';
        return this.continue();
      case 'pending':
        return this.gate();
      case 'waiting-window':
        // The window's timer has fired: open as soon as the rollout is not paused.
        return this.open();
      case 'baking':
        // Bake: read the ring's aggregate health every poll interval until the verdict is pass or breach.
        return this.done({ kind: 'wait', for: 'abort', timeoutMs: this.pollMs });
      case 'passed':
      case 'breached':
        throw new Error(`ring ${ring.name} is ${ring.state} but still current`);
    }
  }

  /** A ring about to open: approval (by policy or over the exposure budget), then its maintenance window. */
  private gate(): Step {
    const p = this.p;
    const ring = this.ring;
    const ringPolicy = this.policy.rings[p.ringIndex]!;
    const cumulative = exposure(p.rings) + ring.assigned;
    const budget = p.plan!.exposureBudget;
    const overBudget = p.ringIndex < p.rings.length - 1 && cumulative > budget;
    if ((ringPolicy.approval || overBudget) && !p.approvedRings.includes(ring.name)) {
      ring.state = 'waiting-approval';
      p.waitingApprovalFor = ring.name;
      p.state = 'waiting-approval';
      this.decide({ ring: ring.name, action: 'wait-approval', reason: overBudget ? `ring would bring exposure to ${cumulative}, above the budget of ${budget}` : 'policy requires approval' });
      return this.done({ kind: 'wait', for: 'approval' });
    }
    const wait = msUntilWindow(this.policy.maintenanceWindows, new Date(this.ctx.now));
    if (wait > 0) {
      ring.state = 'waiting-window';
      this.decide({ ring: ring.name, action: 'wait-window', reason: `next maintenance window opens in ${Math.round(wait / 60_000)} min` });
      return this.done({ kind: 'wait', for: 'abort', timeoutMs: wait });
    }
    return this.open();
  }

  private open(): Step {
    if (this.p.paused) return this.done({ kind: 'wait', for: 'unpaused' });
    return this.done({ kind: 'open-ring', ring: this.ring.name });
  }

  private abort(aborted: { reason: string; by?: string }): Step {
    this.p.waitingApprovalFor = undefined;
    this.p.hold = undefined;
    this.commands.push({ kind: 'abort', reason: aborted.reason });
    this.decide({ action: 'abort', reason: aborted.reason, by: aborted.by });
    this.p.state = 'aborted';
    return this.done({ kind: 'end' });
  }

  private finish(): Step {
    this.commands.push({ kind: 'finish' });
    this.decide({ action: 'finish', reason: `all ${this.policy.rings.length} rings passed; ${this.ctx.request.releaseVersion} is released to the whole target` });
    this.p.state = 'completed';
    return this.done({ kind: 'end' });
  }
}
