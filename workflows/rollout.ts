// RolloutWorkflow: moves one release through the policy's rings. Devices are assigned and
// released by activities (fleet store); health is read as ring aggregates, never one signal
// per device; every verdict comes from the pure ringVerdict and is recorded with its inputs.
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  proxyActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { parseDuration } from '../rollout/duration.js';
import { msUntilWindow } from '../rollout/maintenance-window.js';
import { ringVerdict } from '../rollout/verdict.js';
import type { Decision, RingStatus, RolloutCarry, RolloutPlan, RolloutRequest, RolloutState, RolloutStatus } from '../rollout/types.js';

const fleet = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', nonRetryableErrorTypes: ['RolloutInputError'] },
});

/** What an operator says with a control: why, and who. */
export interface ControlInput {
  reason?: string;
  by?: string;
}

export const pauseSignal = defineSignal<[ControlInput]>('pause');
export const resumeSignal = defineSignal<[ControlInput]>('resume');
export const approveUpdate = defineUpdate<string, [ControlInput]>('approve');
export const abortUpdate = defineUpdate<string, [ControlInput]>('abort');
export const rolloutStatusQuery = defineQuery<RolloutStatus>('status');

const KEEP_DECISIONS = 50;

export async function rolloutWorkflow(request: RolloutRequest, carry?: RolloutCarry): Promise<RolloutStatus> {
  const policy = request.policy;
  let state: RolloutState = 'starting';
  let aborted: { reason: string; by?: string } | undefined;
  let waitingApprovalFor: string | undefined;
  let resumeRequested = false;
  const c: RolloutCarry = carry ?? {
    plan: undefined as unknown as RolloutPlan,
    ringIndex: 0,
    rings: policy.rings.map((r) => ({ name: r.name, state: 'pending', assigned: 0 })),
    approvedRings: [],
    paused: false,
    decisions: [],
    halted: false,
  };

  const status = (): RolloutStatus => ({
    rolloutId: request.rolloutId,
    hardwareId: request.hardwareId,
    releaseVersion: request.releaseVersion,
    state,
    ringIndex: c.ringIndex,
    rings: c.rings,
    exposure: { devices: exposure(c.rings), budget: c.plan?.exposureBudget ?? 0, fleet: c.plan?.fleetSize ?? 0 },
    paused: c.paused,
    waitingApprovalFor,
    decisions: c.decisions,
  });
  // Handlers and helpers change the state; read it through this so TypeScript does not narrow it.
  const currentState = (): RolloutState => state;
  const setState = (next: RolloutState) => {
    state = next;
    upsertSearchAttributes({ OtaRolloutState: [next] });
  };
  /** Keeps the decision for the status query (operator messages are noted only here: handlers cannot await). */
  const note = (decision: Omit<Decision, 'at'>): Decision => {
    const full: Decision = { at: new Date().toISOString(), ...decision };
    c.decisions = [...c.decisions, full].slice(-KEEP_DECISIONS);
    return full;
  };
  /** Also recorded through an activity, so the decision and its figures are in the history. */
  const decide = async (decision: Omit<Decision, 'at'>) => {
    await fleet.recordRolloutDecision(request.rolloutId, note(decision));
  };

  setHandler(rolloutStatusQuery, status);
  setHandler(pauseSignal, (input) => {
    if (c.paused || isFinal(state)) return;
    c.paused = true;
    note({ action: 'pause', reason: input?.reason ?? 'paused by operator', by: input?.by });
  });
  setHandler(resumeSignal, (input) => {
    if (c.halted) resumeRequested = true;
    if (!c.paused && !c.halted) return;
    c.paused = false;
    note({ action: 'resume', reason: input?.reason ?? 'resumed by operator', by: input?.by });
  });
  setHandler(
    approveUpdate,
    (input: ControlInput) => {
      c.approvedRings = [...c.approvedRings, waitingApprovalFor!];
      note({ ring: waitingApprovalFor, action: 'approve', reason: input?.reason ?? 'approved', by: input?.by });
      return `approved ring ${waitingApprovalFor}`;
    },
    {
      validator: (_input: ControlInput) => {
        if (!waitingApprovalFor) throw new Error(`nothing is waiting for approval (rollout is ${state})`);
      },
    },
  );
  setHandler(
    abortUpdate,
    (input: ControlInput) => {
      aborted = { reason: input?.reason ?? 'aborted by operator', by: input?.by };
      return `aborting rollout ${request.rolloutId}`;
    },
    {
      validator: (_input: ControlInput) => {
        if (aborted) throw new Error('rollout is already being aborted');
        if (isFinal(state)) throw new Error(`rollout already ended (${state})`);
      },
    },
  );

  upsertSearchAttributes({ OtaRelease: [request.releaseVersion], OtaHardware: [request.hardwareId] });
  if (!c.plan) {
    c.plan = await fleet.prepareRollout(request);
    c.rings = c.rings.map((ring, i) => ({ ...ring, assigned: c.plan.ringSizes[i] ?? 0 }));
    await decide({ action: 'plan', reason: `${c.plan.fleetSize} devices targeted, rings ${c.rings.map((r) => `${r.name}=${r.assigned}`).join(' ')}`, figures: c.plan });
  }
  setState(c.halted ? 'halted' : 'running');
  const pollMs = parseDuration(policy.pollInterval);
  const stopped = () => aborted !== undefined;

  while (c.ringIndex < policy.rings.length && !stopped()) {
    const ringPolicy = policy.rings[c.ringIndex]!;
    const ring = c.rings[c.ringIndex]!;

    if (c.halted) {
      // Halted: hold until a person resumes (retry the ring) or aborts.
      setState('halted');
      await condition(() => resumeRequested || stopped());
      if (stopped()) break;
      resumeRequested = false;
      c.halted = false;
      c.ringOpenedAt = undefined;
      ring.state = 'pending';
      await decide({ ring: ring.name, action: 'resume-after-halt', reason: 'operator resumed: the ring is offered again and re-evaluated' });
    }

    if (ring.state === 'pending') {
      const cumulative = exposure(c.rings) + ring.assigned;
      const overBudget = c.ringIndex < policy.rings.length - 1 && cumulative > c.plan.exposureBudget;
      if ((ringPolicy.approval || overBudget) && !c.approvedRings.includes(ring.name)) {
        ring.state = 'waiting-approval';
        waitingApprovalFor = ring.name;
        setState('waiting-approval');
        await decide({ ring: ring.name, action: 'wait-approval', reason: overBudget ? `ring would bring exposure to ${cumulative}, above the budget of ${c.plan.exposureBudget}` : 'policy requires approval' });
        await condition(() => c.approvedRings.includes(ring.name) || stopped());
        waitingApprovalFor = undefined;
        if (stopped()) break;
        ring.state = 'pending';
        setState('running');
      }
      const wait = msUntilWindow(policy.maintenanceWindows, new Date());
      if (wait > 0) {
        ring.state = 'waiting-window';
        await decide({ ring: ring.name, action: 'wait-window', reason: `next maintenance window opens in ${Math.round(wait / 60_000)} min` });
        await condition(stopped, wait);
        if (stopped()) break;
      }
      await condition(() => !c.paused || stopped());
      if (stopped()) break;
      await fleet.openRing(request.rolloutId, ring.name);
      ring.state = 'baking';
      ring.openedAt = new Date().toISOString();
      c.ringOpenedAt = Date.now();
      await decide({ ring: ring.name, action: 'open-ring', reason: `${ring.assigned} devices may now get ${request.releaseVersion}` });
    }

    // Bake: read the ring's aggregate health each poll until the verdict is pass or breach.
    for (;;) {
      await condition(stopped, pollMs);
      if (stopped()) break;
      if (c.paused) {
        setState('paused');
        await condition(() => !c.paused || stopped());
        setState('running');
        continue;
      }
      const health = await fleet.readRingHealth(request.rolloutId, ring.name);
      const verdict = ringVerdict({
        ring: ringPolicy,
        health,
        bakedMs: Date.now() - (c.ringOpenedAt ?? Date.now()),
        bakeTimeMs: parseDuration(ringPolicy.bakeTime),
        statistics: policy.statistics,
      });
      ring.health = health;
      const changed = ring.verdict?.verdict !== verdict.verdict || ring.verdict?.reason !== verdict.reason;
      ring.verdict = verdict;
      if (verdict.verdict === 'pass') {
        ring.state = 'passed';
        await decide({ ring: ring.name, action: 'pass', reason: verdict.reason, figures: { health, verdict } });
        c.ringIndex++;
        break;
      }
      if (verdict.verdict === 'breach') {
        ring.state = 'breached';
        await onBreach(ring, verdict.reason, { health, verdict });
        break;
      }
      if (changed) await decide({ ring: ring.name, action: 'wait', reason: verdict.reason, figures: { health, verdict } });
      if (workflowInfo().continueAsNewSuggested) {
        await condition(allHandlersFinished);
        await continueAsNew<typeof rolloutWorkflow>(request, c);
      }
    }
    if (currentState() === 'rolling-back') break;
  }

  if (stopped()) {
    await fleet.abortRollout(request.rolloutId, aborted!.reason);
    await decide({ action: 'abort', reason: aborted!.reason, by: aborted!.by });
    setState('aborted');
  } else if (currentState() === 'rolling-back') {
    // Wait until every exposed device has left the release (or a person aborts the wait).
    for (;;) {
      const remaining = await fleet.devicesStillOnRelease(request.rolloutId);
      if (remaining === 0 || stopped()) {
        if (remaining === 0) await fleet.closeRolledBack(request.rolloutId);
        await decide({ action: 'rolled-back', reason: remaining === 0 ? `every exposed device is back on ${c.plan.previousVersion}` : `stopped waiting with ${remaining} devices still on ${request.releaseVersion}` });
        break;
      }
      await condition(stopped, pollMs);
    }
    setState('rolled-back');
  } else {
    await fleet.finishRollout(request.rolloutId);
    await decide({ action: 'finish', reason: `all ${policy.rings.length} rings passed; ${request.releaseVersion} is released to the whole target` });
    setState('completed');
  }
  await condition(allHandlersFinished);
  return status();

  async function onBreach(ring: RingStatus, reason: string, figures: unknown): Promise<void> {
    const ringPolicy = policy.rings[c.ringIndex]!;
    if (ringPolicy.onBreach === 'rollback' && c.plan.rollbackAllowed) {
      await fleet.rollbackRollout(request.rolloutId, reason);
      await decide({ ring: ring.name, action: 'rollback', reason: `breach: ${reason}; devices on ${request.releaseVersion} return to ${c.plan.previousVersion}`, figures });
      setState('rolling-back');
      return;
    }
    const why = ringPolicy.onBreach === 'rollback' ? `breach: ${reason}; rollback not allowed (${c.plan.rollbackBlockedReason}), halting instead` : `breach: ${reason}`;
    await fleet.haltRollout(request.rolloutId, reason);
    await decide({ ring: ring.name, action: 'halt', reason: why, figures });
    c.halted = true;
    setState('halted');
  }
}

function exposure(rings: RingStatus[]): number {
  return rings.filter((r) => r.state === 'baking' || r.state === 'passed' || r.state === 'breached').reduce((n, r) => n + r.assigned, 0);
}

function isFinal(state: RolloutState): boolean {
  return state === 'completed' || state === 'aborted' || state === 'rolled-back';
}
