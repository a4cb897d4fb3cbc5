// Drives the pure rollout next step as the workflow would: feeds observations one after another,
// advances a fake clock, and keeps the last step. Shared by the next-step and deadline tests.
import { nextStep, type Await, type Observation, type Step } from '../../rollout/next-step.js';
import { initialProgress } from '../../rollout/progress.js';
import type { RolloutProgress, RolloutRequest } from '../../rollout/types.js';

export class RolloutDrive {
  progress: RolloutProgress;
  last!: Step;
  now: number;

  constructor(readonly req: RolloutRequest, startMs: number) {
    this.progress = initialProgress(req.policy);
    this.now = startMs;
  }

  see(observation: Observation, advanceMs = 0): Step {
    this.now += advanceMs;
    this.last = nextStep(this.progress, observation, { request: this.req, now: this.now });
    this.progress = this.last.progress;
    return this.last;
  }

  /** The last step's commands, records named by their action (`record:halt`). */
  commandKinds(): string[] {
    return this.last.commands.map((c) => (c.kind === 'record' ? `record:${c.decision.action}` : c.kind));
  }
}

export const asWait = (next: Await) => next as Extract<Await, { kind: 'wait' }>;
