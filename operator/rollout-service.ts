// Rollouts through Temporal, shared by the operator API and `ota rollout` (embedded default): start
// under a policy, list, status, and the four controls. Who started a rollout rides in its memo, so
// the API can apply the four-eyes rule to an approval.
import { WorkflowIdConflictPolicy, type Client } from '@temporalio/client';
import { capabilityProblems } from '../rollout/policy-plan.js';
import type { RolloutPolicy } from '../rollout/policy.js';
import type { ControlInput, RolloutRequest, RolloutStatus } from '../rollout/types.js';
import { hardwareIdSchema, semverSchema } from '../schemas/manifest.js';
import { failureMessage } from '../temporal/failure-message.js';
import { abortUpdate, approveUpdate, pauseSignal, resumeSignal, rolloutStatusQuery, rolloutWorkflow } from '../workflows/rollout.js';
import { OperatorError } from './errors.js';

/** Visibility queries name the workflow type: the function's name, as the worker registers it. */
const ROLLOUT_WORKFLOW_TYPE = rolloutWorkflow.name;

export interface StartRolloutInput {
  releaseVersion: string;
  hardwareId: string;
  channel: string;
  policy: RolloutPolicy;
  /** Where the policy came from, for the refusal text. */
  policySource: string;
  startedBy: string;
  rolloutId?: string;
  /** Targeted fleet size for checking percent-sized rings of a sequential policy. */
  fleetSize?: number;
}

export interface StartedRollout {
  rolloutId: string;
  hardwareId: string;
  releaseVersion: string;
}

/** The checks that need no Temporal (the CLI runs them before it connects): ids, the policy's target, rings that can decide. */
export function checkRolloutRequest(input: StartRolloutInput): { hardwareId: string; releaseVersion: string } {
  const hardwareId = hardwareIdSchema.parse(input.hardwareId);
  const releaseVersion = semverSchema.parse(input.releaseVersion);
  if (input.policy.target.hardware !== hardwareId) throw new OperatorError('BAD_REQUEST', `policy targets hardware ${input.policy.target.hardware}, not ${hardwareId}`);
  // A sequential ring that can never decide would hold every rollout: refuse before anything starts.
  // Without a fleet size, percent rings resolve as on a very large fleet: only count-sized rings can fail.
  const problem = capabilityProblems(input.policy, input.fleetSize ?? Number.MAX_SAFE_INTEGER)[0];
  if (problem) throw new OperatorError('BAD_REQUEST', `refusing ${input.policySource}: ${problem.message} (see ota rollout plan)`);
  return { hardwareId, releaseVersion };
}

export async function startRollout(client: Client, taskQueue: string, input: StartRolloutInput): Promise<StartedRollout> {
  const { hardwareId, releaseVersion } = checkRolloutRequest(input);
  const rolloutId = input.rolloutId ?? `rollout-${hardwareId}-${releaseVersion}-${Date.now().toString(36)}`;
  const running = client.workflow.list({ query: `WorkflowType = '${ROLLOUT_WORKFLOW_TYPE}' AND OtaHardware = '${hardwareId}' AND ExecutionStatus = 'Running'` });
  for await (const execution of running) {
    throw new OperatorError('CONFLICT', `rollout ${execution.workflowId} of ${hardwareId} is still running; wait for it to finish or abort it (ota rollout abort ${execution.workflowId})`);
  }
  const request: RolloutRequest = { rolloutId, hardwareId, channel: input.channel, releaseVersion, policy: input.policy, requestedBy: input.startedBy };
  await client.workflow.start(rolloutWorkflow, {
    taskQueue,
    workflowId: rolloutId,
    args: [request],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
    memo: { startedBy: input.startedBy },
    searchAttributes: { OtaHardware: [hardwareId], OtaRelease: [releaseVersion], OtaRolloutState: ['starting'] },
  });
  return { rolloutId, hardwareId, releaseVersion };
}

export interface RolloutFilters {
  state?: string;
  release?: string;
  hardware?: string;
}

export interface RolloutListing {
  id: string;
  hardware?: string;
  release?: string;
  state?: string;
  status: string;
  started: string;
}

export async function listRollouts(client: Client, filters: RolloutFilters = {}): Promise<RolloutListing[]> {
  const query = [`WorkflowType = '${ROLLOUT_WORKFLOW_TYPE}'`];
  const quote = (v: string) => `'${v.replace(/'/g, '')}'`;
  if (filters.state) query.push(`OtaRolloutState = ${quote(filters.state)}`);
  if (filters.release) query.push(`OtaRelease = ${quote(filters.release)}`);
  if (filters.hardware) query.push(`OtaHardware = ${quote(filters.hardware)}`);
  const rows: RolloutListing[] = [];
  for await (const e of client.workflow.list({ query: query.join(' AND ') })) {
    const sa = e.searchAttributes as Record<string, unknown[] | undefined>;
    rows.push({
      id: e.workflowId,
      hardware: sa.OtaHardware?.[0] as string | undefined,
      release: sa.OtaRelease?.[0] as string | undefined,
      state: sa.OtaRolloutState?.[0] as string | undefined,
      status: e.status.name,
      started: e.startTime.toISOString(),
    });
  }
  return rows;
}

export async function rolloutStatus(client: Client, id: string): Promise<RolloutStatus> {
  try {
    return await client.workflow.getHandle(id).query(rolloutStatusQuery);
  } catch (err) {
    throw notFoundOr(err, id);
  }
}

/** Who started the rollout (its memo), or undefined for one started before starters were kept. */
export async function rolloutStarter(client: Client, id: string): Promise<string | undefined> {
  try {
    const memo = (await client.workflow.getHandle(id).describe()).memo as { startedBy?: unknown } | undefined;
    return typeof memo?.startedBy === 'string' ? memo.startedBy : undefined;
  } catch (err) {
    throw notFoundOr(err, id);
  }
}

export const ROLLOUT_CONTROLS = ['pause', 'resume', 'approve', 'abort'] as const;
export type RolloutControl = (typeof ROLLOUT_CONTROLS)[number];

/** Sends a control; the workflow's answer (updates) or a note that the signal went out. A refusal is REFUSED with the workflow's reason. */
export async function controlRollout(client: Client, id: string, control: RolloutControl, input: ControlInput): Promise<string> {
  const handle = client.workflow.getHandle(id);
  try {
    if (control === 'pause' || control === 'resume') {
      await handle.signal(control === 'pause' ? pauseSignal : resumeSignal, input);
      return `${control} sent to ${id}`;
    }
    return await handle.executeUpdate(control === 'approve' ? approveUpdate : abortUpdate, { args: [input] });
  } catch (err) {
    // A finished rollout refuses too (its update cannot run): only one that does not exist is NOT_FOUND.
    const exists = await handle.describe().then(
      () => true,
      (e: unknown) => notFoundOr(e, id).code !== 'NOT_FOUND',
    );
    if (!exists) throw new OperatorError('NOT_FOUND', `no rollout ${id}`);
    throw new OperatorError('REFUSED', `${control} refused: ${failureMessage(err)}`);
  }
}

function notFoundOr(err: unknown, id: string): OperatorError {
  const message = failureMessage(err);
  if ((err as { name?: string }).name === 'WorkflowNotFoundError' || /workflow.*not found/i.test(message)) return new OperatorError('NOT_FOUND', `no rollout ${id}`);
  return new OperatorError('UNAVAILABLE', `rollout ${id}: ${message}`);
}
