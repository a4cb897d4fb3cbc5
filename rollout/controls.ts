// Operator controls on a running rollout (pause, resume, approve, abort) as pure changes of its
// progress. The workflow's signal and update handlers call these; the validators' refusals are here too.
import { isFinalRolloutState, noteDecision } from './progress.js';
import type { ControlInput, RolloutProgress } from './types.js';

/** Stop widening: a ring not yet opened waits, a baking ring stops being evaluated. */
export function pauseRollout(p: RolloutProgress, input: ControlInput | undefined, now: number): RolloutProgress {
  if (p.paused || isFinalRolloutState(p.state)) return p;
  return noteDecision({ ...p, paused: true }, { action: 'pause', reason: input?.reason ?? 'paused by operator', by: input?.by }, now);
}

/** Continue a paused rollout; on a halted one, retry the breached ring. */
export function resumeRollout(p: RolloutProgress, input: ControlInput | undefined, now: number): RolloutProgress {
  const halted = p.state === 'halted';
  if (!p.paused && !halted) return p;
  const resumed = { ...p, paused: false, resumeRequested: p.resumeRequested || halted };
  return noteDecision(resumed, { action: 'resume', reason: input?.reason ?? 'resumed by operator', by: input?.by }, now);
}

/** Why an approval is refused now, if it is. */
export function approvalRefusal(p: RolloutProgress): string | undefined {
  if (p.hold?.approved) return `the ${p.hold.reason} hold of ring ${p.hold.ring} is already approved`;
  return p.waitingApprovalFor ? undefined : `nothing is waiting for approval (rollout is ${p.state})`;
}

/** Approves the ring that waits for a person (check approvalRefusal first). */
export function approveRing(p: RolloutProgress, input: ControlInput | undefined, now: number): RolloutProgress {
  const ring = p.waitingApprovalFor!;
  if (p.hold && !p.hold.approved) {
    // A hold (inconclusive ring, health errors): the person says continue.
    const reason = input?.reason ?? (p.hold.reason === 'inconclusive' ? 'approved: the undecided ring counts as passed' : 'approved: read ring health again');
    return noteDecision({ ...p, hold: { ...p.hold, approved: true } }, { ring, action: 'approve', reason, by: input?.by }, now);
  }
  return noteDecision({ ...p, approvedRings: [...p.approvedRings, ring] }, { ring, action: 'approve', reason: input?.reason ?? 'approved', by: input?.by }, now);
}

/** Why an abort is refused now, if it is. */
export function abortRefusal(p: RolloutProgress): string | undefined {
  if (p.abortRequested) return 'rollout is already being aborted';
  if (isFinalRolloutState(p.state)) return `rollout already ended (${p.state})`;
  return undefined;
}

/** Asks for the abort; the next step carries it out (check abortRefusal first). */
export function requestAbort(p: RolloutProgress, input: ControlInput | undefined): RolloutProgress {
  return { ...p, abortRequested: { reason: input?.reason ?? 'aborted by operator', by: input?.by } };
}
