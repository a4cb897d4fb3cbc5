// A rollout's progress as plain data: where it starts, which states are final, what the status
// query shows, and how a decision is noted. Pure, shared by the next step, the controls and the CLI.
import type { RolloutPolicy } from './policy.js';
import type { Decision, RingStatus, RolloutProgress, RolloutRequest, RolloutState, RolloutStatus } from './types.js';

/** States a rollout never leaves. */
export const FINAL_ROLLOUT_STATES: ReadonlySet<RolloutState> = new Set<RolloutState>(['completed', 'aborted', 'rolled-back']);

export function isFinalRolloutState(state: RolloutState): boolean {
  return FINAL_ROLLOUT_STATES.has(state);
}

const KEEP_DECISIONS = 50;

export function initialProgress(policy: RolloutPolicy): RolloutProgress {
  return {
    state: 'starting',
    ringIndex: 0,
    rings: policy.rings.map((r) => ({ name: r.name, state: 'pending', assigned: 0 })),
    approvedRings: [],
    paused: false,
    resumeRequested: false,
    decisions: [],
  };
}

/** The decisions with this one (stamped `now`) added, the most recent kept. */
export function withDecision(decisions: Decision[], decision: Omit<Decision, 'at'>, now: number): Decision[] {
  return [...decisions, { at: new Date(now).toISOString(), ...decision }].slice(-KEEP_DECISIONS);
}

export function noteDecision(progress: RolloutProgress, decision: Omit<Decision, 'at'>, now: number): RolloutProgress {
  return { ...progress, decisions: withDecision(progress.decisions, decision, now) };
}

/**
 * Devices of the rings that were opened (baking, passed or breached): as assigned at the start, or
 * as the ring's last health read counted them when devices joined it late since.
 */
export function exposure(rings: RingStatus[]): number {
  return rings.filter((r) => r.state === 'baking' || r.state === 'passed' || r.state === 'breached').reduce((n, r) => n + Math.max(r.assigned, r.health?.assigned ?? 0), 0);
}

export function rolloutStatus(request: RolloutRequest, p: RolloutProgress): RolloutStatus {
  return {
    rolloutId: request.rolloutId,
    hardwareId: request.hardwareId,
    releaseVersion: request.releaseVersion,
    state: p.state,
    ringIndex: p.ringIndex,
    rings: p.rings,
    exposure: { devices: exposure(p.rings), budget: p.plan?.exposureBudget ?? 0, fleet: p.plan?.fleetSize ?? 0 },
    paused: p.paused,
    waitingApprovalFor: p.waitingApprovalFor,
    hold: p.hold,
    healthErrors: p.healthErrors ?? 0,
    decisions: p.decisions,
  };
}
