// Bounded waits in the pure next step: a ring undecided by its decision deadline holds as
// inconclusive, consecutive health read errors hold as health-errors; a person approves or aborts.
import { describe, expect, it } from 'vitest';
import { abortRefusal, approvalRefusal, approveRing, requestAbort } from '../../rollout/controls.js';
import { waitIsOver, type Step } from '../../rollout/next-step.js';
import { asWait, RolloutDrive } from '../support/rollout-drive.js';
import { parsePolicy } from '../../rollout/policy.js';
import { rolloutStatus } from '../../rollout/progress.js';
import type { RolloutPlan, RolloutRequest } from '../../rollout/types.js';
import type { RingHealth } from '../../rollout/verdict.js';

const T0 = Date.UTC(2030, 0, 7, 12, 0, 0);
const POLL = 60_000;
const HOUR = 3_600_000;

function request(over: { statistics?: unknown; healthErrorLimit?: number; deadline?: string | null } = {}): RolloutRequest {
  const deadline = over.deadline === null ? {} : { decisionDeadline: over.deadline ?? '2h' };
  const policy = parsePolicy({
    target: { hardware: 'gw-x1' },
    rings: [
      { name: 'canary', size: { count: 100 }, bakeTime: '10m', minReports: 50, thresholds: { failureRate: 0.5, maxFailures: 100 }, onBreach: 'halt', ...deadline },
      { name: 'fleet', size: { percent: 100 }, bakeTime: '10m', minReports: 50, thresholds: { failureRate: 0.5, maxFailures: 1000 }, onBreach: 'halt', ...deadline },
    ],
    statistics: over.statistics ?? { mode: 'sequential', alpha: 0.01, beta: 0.05, minEffect: 0.03, baselineRate: 0.02 },
    exposureBudget: { percent: 100 },
    maxConcurrentInstalls: 10,
    pollInterval: '1m',
    ...(over.healthErrorLimit ? { healthErrorLimit: over.healthErrorLimit } : {}),
  });
  return { rolloutId: 'r1', hardwareId: 'gw-x1', channel: 'stable', releaseVersion: '1.1.0', policy, requestedBy: 'test' };
}

const plan: RolloutPlan = { fleetSize: 1000, ringSizes: [100, 900], exposureBudget: 1000, previousVersion: '1.0.0', rollbackAllowed: true };
const health = (assigned: number, reported: number, failed: number): RingHealth => ({ assigned, reported, committed: reported - failed, failed, failuresByKind: {} });

class Drive extends RolloutDrive {
  constructor(req: RolloutRequest) {
    super(req, T0);
  }
  /** Planned, canary opened, first poll due. */
  baking(): Step {
    this.see({ kind: 'started' });
    this.see({ kind: 'planned', plan });
    this.see({ kind: 'ring-opened' });
    return this.see({ kind: 'woke' }, POLL);
  }
  actions(): string[] {
    return this.commandKinds();
  }
}

describe('decision deadline', () => {
  it('the ring opens with its deadline; undecided before it keeps polling, at it holds as inconclusive', () => {
    const d = new Drive(request());
    expect(d.baking().next).toEqual({ kind: 'read-health', ring: 'canary' });
    expect(d.progress.rings[0]!.deadlineAt).toBe(new Date(T0 + 2 * HOUR).toISOString());
    // 2 failures of 40: neither boundary (LLR 2·0.916 − 38·0.0311 = 0.65).
    const undecided = d.see({ kind: 'health', health: health(100, 40, 2) }, HOUR);
    expect(undecided.progress.state).toBe('running');
    expect(undecided.next).toMatchObject({ kind: 'wait', for: 'abort', timeoutMs: POLL });

    const held = d.see({ kind: 'health', health: health(100, 40, 2) }, HOUR);
    expect(held.progress.state).toBe('waiting-approval');
    expect(held.progress.waitingApprovalFor).toBe('canary');
    expect(held.progress.hold).toMatchObject({ reason: 'inconclusive', ring: 'canary', since: new Date(T0 + POLL + 2 * HOUR).toISOString() });
    expect(held.progress.hold!.detail).toMatch(/undecided 2h after the ring opened/);
    expect(d.actions()).toEqual(['record:hold']);
    expect(held.next).toEqual({ kind: 'wait', for: 'hold-released' });
    expect(waitIsOver(held.progress, asWait(held.next))).toBe(false);
    // Nothing else moves it: a timer or a control re-check holds again, without a new decision.
    expect(d.see({ kind: 'woke' }, HOUR).next).toEqual({ kind: 'wait', for: 'hold-released' });
    expect(d.last.commands).toEqual([]);
    const status = rolloutStatus(d.req, d.progress);
    expect(status).toMatchObject({ state: 'waiting-approval', hold: { reason: 'inconclusive', ring: 'canary' }, waitingApprovalFor: 'canary' });
  });

  it('approve: the inconclusive ring counts as passed and the next ring opens', () => {
    const d = new Drive(request());
    d.baking();
    d.see({ kind: 'health', health: health(100, 40, 2) }, 2 * HOUR);
    expect(approvalRefusal(d.progress)).toBeUndefined();
    d.progress = approveRing(d.progress, { by: 'alice' }, d.now);
    expect(approvalRefusal(d.progress)).toMatch(/already approved/);
    expect(waitIsOver(d.progress, { kind: 'wait', for: 'hold-released' })).toBe(true);
    const next = d.see({ kind: 'woke' });
    expect(next.progress).toMatchObject({ state: 'running', ringIndex: 1, hold: undefined, waitingApprovalFor: undefined });
    expect(next.progress.rings[0]!.state).toBe('passed');
    expect(next.progress.approvedRings).toEqual([]);
    expect(d.actions()).toEqual(['record:pass']);
    expect(next.next).toEqual({ kind: 'open-ring', ring: 'fleet' });
  });

  it('abort: the held rollout aborts', () => {
    const d = new Drive(request());
    d.baking();
    d.see({ kind: 'health', health: health(100, 40, 2) }, 2 * HOUR);
    expect(abortRefusal(d.progress)).toBeUndefined();
    d.progress = requestAbort(d.progress, { reason: 'not worth it' });
    expect(waitIsOver(d.progress, { kind: 'wait', for: 'hold-released' })).toBe(true);
    const aborted = d.see({ kind: 'woke' });
    expect(aborted.progress).toMatchObject({ state: 'aborted', hold: undefined });
    expect(d.actions()).toEqual(['abort', 'record:abort']);
  });

  it('a decision before the deadline is not held: a halt breaches, a pass passes', () => {
    const halt = new Drive(request());
    halt.baking();
    // Two sequential rings: α 0.5% each, halt at LLR ≥ ln(0.95/0.005) = 5.25, six straight failures.
    expect(halt.see({ kind: 'health', health: health(100, 6, 6) }, 2 * HOUR).progress.state).toBe('halted');
    const pass = new Drive(request());
    pass.baking();
    expect(pass.see({ kind: 'health', health: health(100, 100, 0) }, 2 * HOUR).progress.ringIndex).toBe(1);
  });

  it('a sequential pass at an earlier look is kept while the ring bakes', () => {
    const d = new Drive(request());
    d.baking();
    const early = d.see({ kind: 'health', health: health(100, 97, 0) });
    expect(early.progress.rings[0]).toMatchObject({ state: 'baking', testPassed: true });
    expect(early.progress.rings[0]!.verdict!.reason).toMatch(/test passed; baking/);
    // Two failures later the LLR is back between the boundaries, but the pass stands once baked.
    const later = d.see({ kind: 'health', health: health(100, 100, 2) }, 10 * POLL);
    expect(later.progress.rings[0]!.state).toBe('passed');
  });

  it('simple and wilson modes: a deadline is optional and bounds the wait the same way', () => {
    const none = new Drive(request({ statistics: { mode: 'wilson' }, deadline: null }));
    none.baking();
    expect(none.see({ kind: 'health', health: health(100, 10, 0) }, 100 * HOUR).progress.state).toBe('running');
    const bounded = new Drive(request({ statistics: { mode: 'wilson' }, deadline: '1d' }));
    bounded.baking();
    expect(bounded.see({ kind: 'health', health: health(100, 10, 0) }, 24 * HOUR).progress.hold?.reason).toBe('inconclusive');
  });
});

describe('health error limit', () => {
  it('errors below the limit poll again; a good read resets the count; the limit in a row holds as health-errors', () => {
    const d = new Drive(request({ healthErrorLimit: 3 }));
    d.baking();
    for (let i = 1; i <= 2; i++) {
      const step = d.see({ kind: 'health-error', error: 'database unavailable' });
      expect(step.progress.healthErrors).toBe(i);
      expect(step.progress.state).toBe('running');
      expect(step.next).toEqual({ kind: 'wait', for: 'abort', timeoutMs: POLL });
      expect(step.commands).toEqual([]);
      expect(d.see({ kind: 'woke' }, POLL).next).toEqual({ kind: 'read-health', ring: 'canary' });
    }
    expect(d.see({ kind: 'health', health: health(100, 10, 0) }).progress.healthErrors).toBe(0);
    expect(rolloutStatus(d.req, d.progress).healthErrors).toBe(0);
    d.see({ kind: 'health-error', error: 'e1' });
    d.see({ kind: 'health-error', error: 'e2' });
    const held = d.see({ kind: 'health-error', error: 'connection refused' });
    expect(held.progress.state).toBe('waiting-approval');
    expect(held.progress.hold).toMatchObject({ reason: 'health-errors', ring: 'canary' });
    expect(held.progress.hold!.detail).toMatch(/3 health reads in a row failed \(limit 3\); last: connection refused/);
    expect(held.next).toEqual({ kind: 'wait', for: 'hold-released' });
    expect(rolloutStatus(d.req, held.progress).healthErrors).toBe(3);
  });

  it('approve after health errors: the ring keeps baking and health is read again', () => {
    const d = new Drive(request());
    d.baking();
    for (let i = 0; i < 4; i++) d.see({ kind: 'health-error', error: 'down' });
    expect(d.progress.hold?.reason).toBe('health-errors');
    d.progress = approveRing(d.progress, {}, d.now);
    const resumed = d.see({ kind: 'woke' });
    expect(resumed.progress).toMatchObject({ state: 'running', healthErrors: 0, hold: undefined, ringIndex: 0 });
    expect(resumed.progress.rings[0]!.state).toBe('baking');
    expect(resumed.next).toEqual({ kind: 'wait', for: 'abort', timeoutMs: POLL });
    expect(d.see({ kind: 'woke' }, POLL).next).toEqual({ kind: 'read-health', ring: 'canary' });
  });
});

describe('atDeadline: pass', () => {
  it('an undecided ring whose policy says pass passes at its deadline instead of holding', () => {
    const req = request();
    const rings = req.policy.rings.map((r, i) => (i === 0 ? { ...r, atDeadline: 'pass' as const } : r));
    const d = new Drive({ ...req, policy: { ...req.policy, rings } });
    d.baking();
    expect(d.see({ kind: 'health', health: health(100, 40, 2) }, HOUR).progress.state).toBe('running');
    const passed = d.see({ kind: 'health', health: health(100, 40, 2) }, HOUR);
    expect(passed.progress).toMatchObject({ state: 'running', ringIndex: 1 });
    expect(passed.progress.hold).toBeUndefined();
    expect(passed.progress.decisions.at(-1)!.reason).toMatch(/undecided at its decision deadline \(2h\); the policy passes it/);
    expect(passed.next).toEqual({ kind: 'open-ring', ring: 'fleet' });
  });
});
