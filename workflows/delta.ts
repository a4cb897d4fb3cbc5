// Deltas on demand (docs/deltas.md, "On demand"). Deterministic: no clock, no I/O; activities do the work.
// deltaDispatchWorkflow runs on the `delta-dispatch` Temporal Schedule: it claims the requests gateways
// wrote into the fleet store and starts one deltaWorkflow per image pair, under an id derived from the
// two image digests, so two requests for one pair (two gateways, a re-claimed stale row) share one run.
// deltaWorkflow generates and verifies the delta, lists it as a signed target, and records the outcome.
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ApplicationFailure, ParentClosePolicy, proxyActivities, startChild, WorkflowIdReusePolicy } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { DeltaJob } from '../activities/delta/on-demand.js';

const quick = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', maximumAttempts: 5 },
});

const heavy = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', maximumAttempts: 3 },
});

export interface DeltaDispatchInput {
  /** Requests claimed per run. */
  limit: number;
  /** A claim older than this without an outcome is taken again (the dispatcher died between claim and start). */
  staleAfterSeconds: number;
}

export interface DeltaDispatchResult {
  started: string[];
  alreadyRunning: string[];
}

export async function deltaDispatchWorkflow(input: DeltaDispatchInput): Promise<DeltaDispatchResult> {
  const jobs = await quick.claimDeltaJobs(input.limit, input.staleAfterSeconds);
  const result: DeltaDispatchResult = { started: [], alreadyRunning: [] };
  for (const job of jobs) {
    try {
      await startChild(deltaWorkflow, {
        workflowId: job.workflowId,
        args: [job],
        // The delta outlives this short dispatch run.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        // A finished run does not block a new one (after garbage collection the pair may be asked again);
        // a running one does, and that is the "already started" case below.
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      });
      result.started.push(job.workflowId);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      result.alreadyRunning.push(job.workflowId);
    }
  }
  return result;
}

export type DeltaWorkflowResult =
  | { outcome: 'ready'; targetPath: string; sha256: string; length: number; generationMs: number }
  | { outcome: 'skipped' | 'failed'; reason: string };

export async function deltaWorkflow(job: DeltaJob): Promise<DeltaWorkflowResult> {
  let generated;
  try {
    generated = await heavy.generateOnDemandDelta(job);
  } catch (err) {
    const reason = failureText(err);
    await quick.recordDeltaNotMade(job, 'failed', reason);
    return { outcome: 'failed', reason };
  }
  if (generated.kind === 'skipped') {
    await quick.recordDeltaNotMade(job, 'skipped', generated.reason);
    return { outcome: 'skipped', reason: generated.reason };
  }
  try {
    const { targetPath } = await quick.publishOnDemandDelta(job, generated);
    return { outcome: 'ready', targetPath, sha256: generated.sha256, length: generated.length, generationMs: generated.generationMs };
  } catch (err) {
    const reason = failureText(err);
    await quick.recordDeltaNotMade(job, 'failed', reason);
    return { outcome: 'failed', reason };
  }
}

function failureText(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof ApplicationFailure) return `${cause.type ? `${cause.type}: ` : ''}${cause.message}`;
  return err instanceof Error ? (cause instanceof Error ? cause.message : err.message) : String(err);
}
