// RolloutWorkflow: moves one release through the policy's rings by interpreting the pure next
// step (rollout/next-step.ts): it runs the step's commands, awaits what the step asks for and
// feeds what it observed back in. Devices are assigned and released by activities (fleet store);
// health is read as ring aggregates, never one signal per device; every decision is recorded.
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  isCancellation,
  defineSignal,
  defineUpdate,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { abortRefusal, approvalRefusal, approveRing, pauseRollout, requestAbort, resumeRollout } from '../rollout/controls.js';
import { nextStep, waitIsOver, type Await, type Command, type Observation } from '../rollout/next-step.js';
import { initialProgress, rolloutStatus } from '../rollout/progress.js';
import type { ControlInput, RolloutProgress, RolloutRequest, RolloutState, RolloutStatus } from '../rollout/types.js';
import { silentAfterSeconds } from '../rollout/policy.js';

const fleet = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', nonRetryableErrorTypes: ['RolloutInputError'] },
});

// Health reads fail fast into the next step (which counts them against healthErrorLimit) instead
// of retrying forever inside one activity.
const healthReads = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 3, nonRetryableErrorTypes: ['RolloutInputError'] },
});

export const pauseSignal = defineSignal<[ControlInput]>('pause');
export const resumeSignal = defineSignal<[ControlInput]>('resume');
export const approveUpdate = defineUpdate<string, [ControlInput]>('approve');
export const abortUpdate = defineUpdate<string, [ControlInput]>('abort');
export const rolloutStatusQuery = defineQuery<RolloutStatus>('status');

export async function rolloutWorkflow(request: RolloutRequest, carried?: RolloutProgress): Promise<RolloutStatus> {
  // The one source of truth: changed only by the pure next step and the pure controls.
  let progress = carried ?? initialProgress(request.policy);

  setHandler(rolloutStatusQuery, () => rolloutStatus(request, progress));
  setHandler(pauseSignal, (input) => {
    progress = pauseRollout(progress, input, Date.now());
  });
  setHandler(resumeSignal, (input) => {
    progress = resumeRollout(progress, input, Date.now());
  });
  setHandler(
    approveUpdate,
    (input: ControlInput) => {
      const ring = progress.waitingApprovalFor;
      progress = approveRing(progress, input, Date.now());
      return `approved ring ${ring}`;
    },
    { validator: (_input: ControlInput) => refuseIf(approvalRefusal(progress)) },
  );
  setHandler(
    abortUpdate,
    (input: ControlInput) => {
      progress = requestAbort(progress, input);
      return `aborting rollout ${request.rolloutId}`;
    },
    { validator: (_input: ControlInput) => refuseIf(abortRefusal(progress)) },
  );

  upsertSearchAttributes({ OtaRelease: [request.releaseVersion], OtaHardware: [request.hardwareId] });
  let published: RolloutState | undefined;
  let observation: Observation = { kind: 'started' };
  for (;;) {
    const step = nextStep(progress, observation, { request, now: Date.now() });
    progress = step.progress;
    if (progress.state !== published) {
      published = progress.state;
      upsertSearchAttributes({ OtaRolloutState: [published] });
    }
    for (const command of step.commands) await run(command);
    if (progress !== step.progress) {
      // A control came while the commands ran (a pause before a ring opens, say): it counts.
      observation = { kind: 'controlled' };
      continue;
    }
    if (step.next.kind === 'end') break;
    observation = await perform(step.next);
  }
  await condition(allHandlersFinished);
  return rolloutStatus(request, progress);

  async function run(command: Command): Promise<void> {
    const id = request.rolloutId;
    switch (command.kind) {
      case 'record':
        // The decision and its figures are the activity's input, so they are in the history.
        return fleet.recordRolloutDecision(id, command.decision);
      case 'halt':
        return fleet.haltRollout(id, command.reason);
      case 'rollback':
        return fleet.rollbackRollout(id, command.reason);
      case 'abort':
        return fleet.abortRollout(id, command.reason);
      case 'finish':
        return fleet.finishRollout(id);
      case 'close-rolled-back':
        return fleet.closeRolledBack(id);
    }
  }

  async function perform(next: Exclude<Await, { kind: 'end' }>): Promise<Observation> {
    const id = request.rolloutId;
    switch (next.kind) {
      case 'prepare':
        return { kind: 'planned', plan: await fleet.prepareRollout(request) };
      case 'open-ring':
        await fleet.openRing(id, next.ring);
        return { kind: 'ring-opened' };
      case 'read-health':
        try {
          // The window of heartbeats (post-commit health, control cohort) starts when the ring opened.
          const window = progress.ringOpenedAt !== undefined ? { sinceMs: progress.ringOpenedAt, silentAfterSeconds: silentAfterSeconds(request.policy) } : undefined;
          return { kind: 'health', health: await healthReads.readRingHealth(id, next.ring, window) };
        } catch (err) {
          if (isCancellation(err)) throw err;
          return { kind: 'health-error', error: errorText(err) };
        }
      case 'count-remaining':
        return { kind: 'remaining', devices: await fleet.devicesStillOnRelease(id) };
      case 'wait':
        if (next.continueAsNew && workflowInfo().continueAsNewSuggested) {
          await condition(allHandlersFinished);
          await continueAsNew<typeof rolloutWorkflow>(request, progress);
        }
        await condition(() => waitIsOver(progress, next), next.timeoutMs);
        return { kind: 'woke' };
    }
  }
}

function errorText(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string } };
  return e.cause?.message ?? e.message ?? String(err);
}

function refuseIf(refusal: string | undefined): void {
  if (refusal) throw new Error(refusal);
}
