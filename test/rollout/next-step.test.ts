// The rollout's pure next step and operator controls: the decisions the workflow only interprets.
import { describe, expect, it } from 'vitest';
import { abortRefusal, approvalRefusal, approveRing, pauseRollout, requestAbort, resumeRollout } from '../../rollout/controls.js';
import { nextStep, waitIsOver, type Step } from '../../rollout/next-step.js';
import { asWait, RolloutDrive } from '../support/rollout-drive.js';
import { parsePolicy } from '../../rollout/policy.js';
import { isFinalRolloutState, rolloutStatus } from '../../rollout/progress.js';
import type { RolloutPlan, RolloutRequest } from '../../rollout/types.js';
import type { RingHealth } from '../../rollout/verdict.js';

const T0 = Date.UTC(2030, 0, 7, 12, 0, 0); // a Monday, 12:00 UTC

type RingData = { name: string; onBreach?: 'halt' | 'rollback'; approval?: boolean };

function request(rings: RingData[] = [{ name: 'canary' }, { name: 'fleet' }], extra: Record<string, unknown> = {}): RolloutRequest {
  const policy = parsePolicy({
    target: { hardware: 'gw-x1' },
    rings: rings.map((r, i) => ({
      name: r.name,
      size: i === rings.length - 1 ? { percent: 100 } : { count: 2 },
      bakeTime: '1m',
      minReports: 2,
      thresholds: { failureRate: 0.2, maxFailures: 0 },
      onBreach: r.onBreach ?? 'halt',
      approval: r.approval ?? false,
    })),
    exposureBudget: { percent: 100 },
    maxConcurrentInstalls: 10,
    pollInterval: '10s',
    ...extra,
  });
  return { rolloutId: 'r1', hardwareId: 'gw-x1', channel: 'stable', releaseVersion: '1.1.0', policy, requestedBy: 'test' };
}

const plan = (over: Partial<RolloutPlan> = {}): RolloutPlan => ({
  fleetSize: 10,
  ringSizes: [2, 8],
  exposureBudget: 10,
  previousVersion: '1.0.0',
  rollbackAllowed: true,
  ...over,
});

const healthy = (n: number): RingHealth => ({ assigned: n, reported: n, committed: n, failed: 0, failuresByKind: {} });
const crashing = (n: number): RingHealth => ({ assigned: n, reported: n, committed: 0, failed: n, failuresByKind: { boot: n } });

class Drive extends RolloutDrive {
  constructor(req: RolloutRequest) {
    super(req, T0);
  }

  /** Started and planned: the canary is about to open. */
  planned(p = plan()): Step {
    expect(this.see({ kind: 'started' }).next).toEqual({ kind: 'prepare' });
    return this.see({ kind: 'planned', plan: p });
  }

  /** Opens the current ring and ends its first poll wait. */
  openAndPoll(): Step {
    this.see({ kind: 'ring-opened' });
    return this.see({ kind: 'woke' }, 10_000);
  }
}

const wait = asWait;

describe('rollout next step', () => {
  it('a healthy release: plan, each ring opened, baked, passed, then finished', () => {
    const d = new Drive(request());
    const planned = d.planned();
    expect(planned.progress.state).toBe('running');
    expect(planned.progress.rings.map((r) => r.assigned)).toEqual([2, 8]);
    expect(d.commandKinds()).toEqual(['record:plan']);
    expect(planned.next).toEqual({ kind: 'open-ring', ring: 'canary' });

    const opened = d.see({ kind: 'ring-opened' });
    expect(opened.progress.rings[0]).toMatchObject({ state: 'baking', openedAt: new Date(T0).toISOString() });
    expect(opened.progress.ringOpenedAt).toBe(T0);
    expect(d.commandKinds()).toEqual(['record:open-ring']);
    expect(opened.next).toEqual({ kind: 'wait', for: 'abort', timeoutMs: 10_000 });
    expect(d.see({ kind: 'woke' }, 10_000).next).toEqual({ kind: 'read-health', ring: 'canary' });

    // Healthy but not baked long enough: wait, noted once, at a point where continuing as new is safe.
    const early = d.see({ kind: 'health', health: healthy(2) });
    expect(early.progress.rings[0]!.verdict?.verdict).toBe('wait');
    expect(d.commandKinds()).toEqual(['record:wait']);
    expect(early.next).toEqual({ kind: 'wait', for: 'abort', timeoutMs: 10_000, continueAsNew: true });
    d.see({ kind: 'woke' });
    d.see({ kind: 'health', health: healthy(2) });
    expect(d.last.commands).toEqual([]); // the same verdict and reason are not recorded again

    const passed = d.see({ kind: 'health', health: healthy(2) }, 60_000);
    expect(passed.progress.rings[0]!.state).toBe('passed');
    expect(passed.progress.ringIndex).toBe(1);
    expect(d.commandKinds()).toEqual(['record:pass']);
    expect(passed.next).toEqual({ kind: 'open-ring', ring: 'fleet' });

    d.openAndPoll();
    const finished = d.see({ kind: 'health', health: healthy(8) }, 60_000);
    expect(d.commandKinds()).toEqual(['record:pass', 'finish', 'record:finish']);
    expect(finished.progress.state).toBe('completed');
    expect(finished.next).toEqual({ kind: 'end' });
    expect(isFinalRolloutState(finished.progress.state)).toBe(true);
    expect(rolloutStatus(d.req, finished.progress).exposure).toEqual({ devices: 10, budget: 10, fleet: 10 });
  });

  it('a breach halts when the policy says halt; a resume retries the ring', () => {
    const d = new Drive(request());
    d.planned();
    d.openAndPoll();
    const halted = d.see({ kind: 'health', health: crashing(2) });
    expect(halted.progress.state).toBe('halted');
    expect(halted.progress.rings[0]!.state).toBe('breached');
    expect(d.commandKinds()).toEqual(['halt', 'record:halt']);
    expect(halted.commands[0]).toMatchObject({ reason: expect.stringMatching(/2 devices failed/) });
    expect(halted.next).toEqual({ kind: 'wait', for: 'resume' });
    expect(waitIsOver(halted.progress, wait(halted.next))).toBe(false);

    d.progress = resumeRollout(d.progress, { reason: 'fixed the config', by: 'ops' }, d.now);
    expect(d.progress.resumeRequested).toBe(true);
    expect(waitIsOver(d.progress, wait(halted.next))).toBe(true);
    const retried = d.see({ kind: 'woke' });
    expect(retried.progress.state).toBe('running');
    expect(retried.progress.resumeRequested).toBe(false);
    expect(retried.progress.rings[0]!.state).toBe('pending');
    expect(d.commandKinds()).toEqual(['record:resume-after-halt']);
    expect(retried.next).toEqual({ kind: 'open-ring', ring: 'canary' });
  });

  it('a breach rolls back when allowed, and ends once every exposed device has left the release', () => {
    const d = new Drive(request([{ name: 'canary', onBreach: 'rollback' }, { name: 'fleet' }]));
    d.planned();
    d.openAndPoll();
    const breached = d.see({ kind: 'health', health: crashing(2) });
    expect(breached.progress.state).toBe('rolling-back');
    expect(d.commandKinds()).toEqual(['rollback', 'record:rollback']);
    expect(breached.progress.decisions.at(-1)!.reason).toMatch(/^breach: .*; devices on 1\.1\.0 return to 1\.0\.0$/);
    expect(breached.next).toEqual({ kind: 'count-remaining' });

    expect(d.see({ kind: 'remaining', devices: 2 }).next).toEqual({ kind: 'wait', for: 'abort', timeoutMs: 10_000 });
    expect(d.see({ kind: 'woke' }, 10_000).next).toEqual({ kind: 'count-remaining' });
    const done = d.see({ kind: 'remaining', devices: 0 });
    expect(d.commandKinds()).toEqual(['close-rolled-back', 'record:rolled-back']);
    expect(done.progress.decisions.at(-1)!.reason).toBe('every exposed device is back on 1.0.0');
    expect(done.progress.state).toBe('rolled-back');
    expect(done.next).toEqual({ kind: 'end' });
  });

  it('halts instead of rolling back below a raised security version', () => {
    const d = new Drive(request([{ name: 'canary', onBreach: 'rollback' }, { name: 'fleet' }]));
    d.planned(plan({ rollbackAllowed: false, rollbackBlockedReason: '1.1.0 raised the security version to 2 (from 1)' }));
    d.openAndPoll();
    const halted = d.see({ kind: 'health', health: crashing(2) });
    expect(halted.progress.state).toBe('halted');
    expect(d.commandKinds()).toEqual(['halt', 'record:halt']);
    expect(halted.progress.decisions.at(-1)!.reason).toMatch(/rollback not allowed \(1\.1\.0 raised the security version to 2 \(from 1\)\), halting instead/);
  });

  it('pause holds a ring before it opens and stops a baking ring being evaluated; resume continues', () => {
    const d = new Drive(request());
    d.see({ kind: 'started' });
    d.progress = pauseRollout(d.progress, { reason: 'lunch', by: 'ops' }, d.now);
    expect(d.progress.paused).toBe(true);
    expect(d.progress.decisions.at(-1)).toMatchObject({ action: 'pause', reason: 'lunch', by: 'ops' });
    expect(pauseRollout(d.progress, {}, d.now)).toBe(d.progress); // a second pause changes nothing

    const held = d.see({ kind: 'planned', plan: plan() });
    expect(held.next).toEqual({ kind: 'wait', for: 'unpaused' });
    d.progress = resumeRollout(d.progress, { reason: 'back' }, d.now);
    expect(waitIsOver(d.progress, wait(held.next))).toBe(true);
    expect(d.see({ kind: 'woke' }).next).toEqual({ kind: 'open-ring', ring: 'canary' });

    d.see({ kind: 'ring-opened' });
    d.progress = pauseRollout(d.progress, {}, d.now);
    const paused = d.see({ kind: 'woke' }, 10_000);
    expect(paused.progress.state).toBe('paused');
    expect(paused.next).toEqual({ kind: 'wait', for: 'unpaused' });
    d.progress = resumeRollout(d.progress, {}, d.now);
    const resumed = d.see({ kind: 'woke' });
    expect(resumed.progress.state).toBe('running');
    // Resumed: one more poll interval before the ring's health is read.
    expect(resumed.next).toEqual({ kind: 'wait', for: 'abort', timeoutMs: 10_000 });
    expect(d.see({ kind: 'woke' }, 10_000).next).toEqual({ kind: 'read-health', ring: 'canary' });
  });

  it('a pause that comes while a step records its decisions counts before the ring opens', () => {
    const d = new Drive(request());
    expect(d.planned().next).toEqual({ kind: 'open-ring', ring: 'canary' });
    d.progress = pauseRollout(d.progress, {}, d.now);
    expect(d.see({ kind: 'controlled' }).next).toEqual({ kind: 'wait', for: 'unpaused' });
  });

  it('a ring that needs approval waits for it; approval is refused when nothing waits', () => {
    const d = new Drive(request([{ name: 'canary' }, { name: 'fleet', approval: true }]));
    d.planned();
    expect(approvalRefusal(d.progress)).toBe('nothing is waiting for approval (rollout is running)');
    d.openAndPoll();
    const waiting = d.see({ kind: 'health', health: healthy(2) }, 60_000);
    expect(waiting.progress.state).toBe('waiting-approval');
    expect(waiting.progress.waitingApprovalFor).toBe('fleet');
    expect(waiting.progress.rings[1]!.state).toBe('waiting-approval');
    expect(d.commandKinds()).toEqual(['record:pass', 'record:wait-approval']);
    expect(waiting.progress.decisions.at(-1)!.reason).toBe('policy requires approval');
    expect(waiting.next).toEqual({ kind: 'wait', for: 'approval' });

    expect(approvalRefusal(d.progress)).toBeUndefined();
    d.progress = approveRing(d.progress, { reason: 'canary looks good', by: 'ops' }, d.now);
    expect(d.progress.decisions.at(-1)).toMatchObject({ ring: 'fleet', action: 'approve', reason: 'canary looks good' });
    expect(waitIsOver(d.progress, wait(waiting.next))).toBe(true);
    const approved = d.see({ kind: 'woke' });
    expect(approved.progress.state).toBe('running');
    expect(approved.progress.waitingApprovalFor).toBeUndefined();
    expect(approved.next).toEqual({ kind: 'open-ring', ring: 'fleet' });
  });

  it('a ring above the exposure budget waits for approval (the last ring never does)', () => {
    const d = new Drive(request([{ name: 'canary' }, { name: 'early' }, { name: 'fleet' }]));
    const step = d.planned(plan({ ringSizes: [2, 3, 5], exposureBudget: 1 }));
    expect(step.progress.waitingApprovalFor).toBe('canary');
    expect(step.progress.decisions.at(-1)!.reason).toBe('ring would bring exposure to 2, above the budget of 1');
  });

  it('outside the maintenance windows a ring waits for the next one, then opens', () => {
    const d = new Drive(request(undefined, { maintenanceWindows: [{ days: ['mon'], start: '13:00', end: '14:00' }] }));
    const step = d.planned();
    expect(step.progress.rings[0]!.state).toBe('waiting-window');
    expect(step.progress.decisions.at(-1)!.reason).toBe('next maintenance window opens in 60 min');
    expect(step.next).toEqual({ kind: 'wait', for: 'abort', timeoutMs: 3_600_000 });
    expect(d.see({ kind: 'woke' }, 3_600_000).next).toEqual({ kind: 'open-ring', ring: 'canary' });
  });

  it('abort ends any wait, holds the devices and is accepted once; not after the rollout ended', () => {
    const d = new Drive(request());
    d.planned();
    d.see({ kind: 'ring-opened' });
    expect(abortRefusal(d.progress)).toBeUndefined();
    d.progress = requestAbort(d.progress, { reason: 'changed our minds', by: 'ops' });
    expect(abortRefusal(d.progress)).toBe('rollout is already being aborted');
    for (const w of ['abort', 'resume', 'approval', 'unpaused'] as const) expect(waitIsOver(d.progress, { kind: 'wait', for: w })).toBe(true);
    const aborted = d.see({ kind: 'woke' });
    expect(d.commandKinds()).toEqual(['abort', 'record:abort']);
    expect(aborted.commands[0]).toEqual({ kind: 'abort', reason: 'changed our minds' });
    expect(aborted.progress.decisions.at(-1)).toMatchObject({ action: 'abort', by: 'ops' });
    expect(aborted.progress.state).toBe('aborted');
    expect(aborted.next).toEqual({ kind: 'end' });
    expect(abortRefusal({ ...aborted.progress, abortRequested: undefined })).toBe('rollout already ended (aborted)');
    expect(pauseRollout(aborted.progress, {}, d.now)).toBe(aborted.progress);
  });

  it('an abort while rolling back stops the wait without holding the devices', () => {
    const d = new Drive(request([{ name: 'canary', onBreach: 'rollback' }, { name: 'fleet' }]));
    d.planned();
    d.openAndPoll();
    d.see({ kind: 'health', health: crashing(2) });
    d.progress = requestAbort(d.progress, { reason: 'enough' });
    const stopped = d.see({ kind: 'remaining', devices: 1 });
    expect(d.commandKinds()).toEqual(['record:rolled-back']);
    expect(stopped.progress.decisions.at(-1)!.reason).toBe('stopped waiting with 1 devices still on 1.1.0');
    expect(stopped.progress.state).toBe('rolled-back');
  });

  it('a run continued as new resumes a baking ring with a poll, not a second opening', () => {
    const d = new Drive(request());
    d.planned();
    d.openAndPoll();
    d.see({ kind: 'health', health: healthy(2) });
    const resumed = d.see({ kind: 'started' });
    expect(resumed.commands).toEqual([]);
    expect(resumed.next).toEqual({ kind: 'wait', for: 'abort', timeoutMs: 10_000 });
    expect(resumed.progress.decisions.filter((x) => x.action === 'open-ring')).toHaveLength(1);
  });

  it('leaves the progress it was given unchanged', () => {
    const d = new Drive(request());
    d.planned();
    const before = structuredClone(d.progress);
    nextStep(d.progress, { kind: 'ring-opened' }, { request: d.req, now: T0 });
    expect(d.progress).toEqual(before);
  });
});
