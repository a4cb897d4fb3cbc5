// Shapes shared by the rollout workflow, its activities and the CLI. Plain data: all of it is
// recorded in the workflow history, which is what lets a halt be explained afterwards.
import type { RolloutPolicy } from './policy.js';
import type { RingHealth, RingVerdict, SequentialTestsPassed } from './verdict.js';

export interface RolloutRequest {
  rolloutId: string;
  hardwareId: string;
  channel: string;
  releaseVersion: string;
  policy: RolloutPolicy;
  requestedBy: string;
}

export interface RolloutPlan {
  /** Targeted devices (hardware + labels, not revoked). */
  fleetSize: number;
  /** Devices per ring (not cumulative), as assigned in the fleet store. */
  ringSizes: number[];
  exposureBudget: number;
  /** The release the targeted devices run (the most common one when several; rollout/previous-release.ts). */
  previousVersion: string | null;
  /** Why previousVersion is a choice: the devices run several releases, or none known. */
  previousVersionNote?: string;
  /** Anti-rollback: false when the release raised the security version above the previous one. */
  rollbackAllowed: boolean;
  rollbackBlockedReason?: string;
}

export type RingState = 'pending' | 'waiting-approval' | 'waiting-window' | 'baking' | 'passed' | 'breached';

export interface RingStatus {
  name: string;
  state: RingState;
  assigned: number;
  openedAt?: string;
  health?: RingHealth;
  verdict?: RingVerdict;
  /** Sequential statistics: the test reached its pass boundary at a look of this ring (kept). */
  testPassed?: boolean;
  /** Sequential with a control from heartbeats: which of its two tests passed (kept). */
  testsPassed?: SequentialTestsPassed;
  /** When the ring holds as inconclusive if still undecided (its decisionDeadline after opening). */
  deadlineAt?: string;
  /** Sequential: the post-commit reference rate frozen when the ring opened (verdict.ts frozenReferenceRate). */
  postCommitReference?: number;
}

/** Why a rollout holds for a person: approve continues (the ring counts as passed, or health is read again), abort aborts. */
export interface RolloutHold {
  reason: 'inconclusive' | 'health-errors';
  ring: string;
  detail: string;
  since: string;
  /** A person approved: the next step continues. */
  approved?: boolean;
}

export type RolloutState = 'starting' | 'running' | 'waiting-approval' | 'paused' | 'halted' | 'rolling-back' | 'rolled-back' | 'completed' | 'aborted';

export interface Decision {
  at: string;
  ring?: string;
  action: string;
  reason: string;
  by?: string;
  figures?: unknown;
}

export interface RolloutStatus {
  rolloutId: string;
  hardwareId: string;
  releaseVersion: string;
  state: RolloutState;
  ringIndex: number;
  rings: RingStatus[];
  exposure: { devices: number; budget: number; fleet: number };
  paused: boolean;
  waitingApprovalFor?: string;
  /** Holding for a person (inconclusive ring, or too many health read errors). */
  hold?: RolloutHold;
  /** Failed health reads in a row (a good read resets it). */
  healthErrors: number;
  /** The most recent decisions (all are in the history). */
  decisions: Decision[];
}

/** Where a rollout is: the workflow's one source of truth, changed only by the pure next step and
 * the operator controls (rollout/next-step.ts, rollout/controls.ts), carried across continue-as-new
 * so a long rollout resumes exactly where it was. */
export interface RolloutProgress {
  state: RolloutState;
  /** Set once the devices are assigned (prepareRollout). */
  plan?: RolloutPlan;
  ringIndex: number;
  rings: RingStatus[];
  approvedRings: string[];
  paused: boolean;
  /** A resume that came while halted: the ring is retried at the next step. */
  resumeRequested: boolean;
  waitingApprovalFor?: string;
  abortRequested?: { reason: string; by?: string };
  /** Holding for a person (inconclusive ring, or too many health read errors). */
  hold?: RolloutHold;
  /** Failed health reads in a row (a good read resets it; absent = 0, as in runs carried from before). */
  healthErrors?: number;
  /** The most recent decisions (all are in the history). */
  decisions: Decision[];
  /** When the current ring was opened (epoch ms), for its bake time. */
  ringOpenedAt?: number;
  /** Control cohorts of the rings passed so far, summed: the pool later rings freeze their post-commit reference from. */
  controlPool?: { observed: number; failures: number };
}

/** What an operator says with a control: why, and who. */
export interface ControlInput {
  reason?: string;
  by?: string;
}
