// /v1/rollouts: list, status, start under a policy, plan, and the four controls. Reading a status
// also appends the workflow's decisions the audit log does not have yet (actor: who decided, or
// "workflow"), so the log holds one timeline of people and the orchestrator.
import { z } from 'zod';
import { parsePolicy, PolicyError } from '../../rollout/policy.js';
import { planRollout, sequentialStatistics } from '../../rollout/policy-plan.js';
import type { Decision, RolloutStatus } from '../../rollout/types.js';
import { temporalOf, type OperatorDeps } from '../deps.js';
import { OperatorError } from '../errors.js';
import { fourEyes } from '../roles.js';
import type { OperatorRouter } from '../route.js';
import { controlRollout, listRollouts, rolloutStarter, rolloutStatus, startRollout, ROLLOUT_CONTROLS } from '../rollout-service.js';
import type { FleetStore } from '../../fleet/fleet-store.js';

const idParams = z.object({ id: z.string().min(1).max(200) });
const controlBody = z.object({ reason: z.string().max(1000).optional() }).strict();
const startBody = z
  .object({
    release: z.string().max(64),
    hardware: z.string().max(64),
    channel: z.string().max(32).default('stable'),
    policy: z.unknown().describe('the rollout policy as JSON (the YAML file, parsed)'),
    id: z.string().min(1).max(200).optional(),
    fleet: z.int().min(1).optional(),
    reason: z.string().max(1000).optional(),
  })
  .strict();
const planBody = z
  .object({
    hardware: z.string().max(64),
    policy: z.unknown(),
    fleet: z.int().min(1).max(1_000_000).default(10_000),
    noise: z.number().min(0).lt(1).optional(),
    runs: z.int().min(1).max(2000).default(200),
    seed: z.int().min(0).default(1),
  })
  .strict();

function policyFrom(data: unknown) {
  try {
    return parsePolicy(data, 'policy');
  } catch (error) {
    if (error instanceof PolicyError) throw new OperatorError('BAD_REQUEST', error.message);
    throw error;
  }
}

/** The decision's audit key: when, which ring, what. */
const decisionKey = (d: Decision) => `${d.at}|${d.ring ?? ''}|${d.action}`;

export async function recordDecisions(fleet: FleetStore, status: RolloutStatus): Promise<void> {
  await fleet.appendNewDecisions(
    status.rolloutId,
    status.decisions.map((d) => ({
      key: decisionKey(d),
      input: { actor: d.by ?? 'workflow', role: d.by ? 'operator' : 'workflow', action: `decision.${d.action}`, target: status.rolloutId, reason: d.reason, result: 'ok', detail: { at: d.at, ...(d.ring && { ring: d.ring }), ...(d.figures !== undefined && { figures: d.figures }) } },
    })),
  );
}

export function registerRolloutRoutes(router: OperatorRouter, deps: OperatorDeps): void {
  router.add({
    method: 'GET',
    url: '/v1/rollouts',
    action: 'rollout.read',
    summary: 'rollouts, newest first',
    query: z.object({ state: z.string().max(32).optional(), release: z.string().max(64).optional(), hardware: z.string().max(64).optional() }),
    handler: async ({ query }) => ({ rollouts: await listRollouts(temporalOf(deps).client, query) }),
  });
  router.add({
    method: 'GET',
    url: '/v1/rollouts/:id',
    action: 'rollout.read',
    summary: 'rings, per-ring counts, verdicts with figures, exposure, recent decisions',
    params: idParams,
    handler: async ({ params }) => {
      const status = await rolloutStatus(temporalOf(deps).client, params.id);
      await recordDecisions(deps.fleet, status);
      return status;
    },
  });
  router.add({
    method: 'POST',
    url: '/v1/rollouts',
    action: 'rollout.start',
    summary: 'start a rollout of a published release under a policy',
    body: startBody,
    audit: { target: (_p, b, result) => (result as { rolloutId?: string } | undefined)?.rolloutId ?? b?.id ?? `${b?.hardware ?? '?'}@${b?.release ?? '?'}`, reason: (b) => b?.reason },
    handler: async ({ principal, body }) => {
      const { client, taskQueue } = temporalOf(deps);
      return startRollout(client, taskQueue, { releaseVersion: body.release, hardwareId: body.hardware, channel: body.channel, policy: policyFrom(body.policy), policySource: 'the policy', startedBy: principal.subject, rolloutId: body.id, fleetSize: body.fleet });
    },
  });
  router.add({
    method: 'POST',
    url: '/v1/rollouts/plan',
    action: 'rollout.plan',
    summary: 'what a sequential policy can detect, its false-halt odds and time to decisions (seeded simulations)',
    body: planBody,
    handler: async ({ body }) => {
      const policy = policyFrom(body.policy);
      if (policy.target.hardware !== body.hardware) throw new OperatorError('BAD_REQUEST', `policy targets hardware ${policy.target.hardware}, not ${body.hardware}`);
      const stats = sequentialStatistics(policy);
      if (!stats) throw new OperatorError('BAD_REQUEST', `the policy uses ${policy.statistics.mode} statistics; a plan needs statistics.mode sequential`);
      return planRollout(policy, { fleetSize: body.fleet, noise: body.noise ?? stats.baselineRate, runs: body.runs, seed: body.seed, reportsPerPoll: 20, silentShare: 0.1, brickShare: 0.2, control: true });
    },
  });
  for (const control of ROLLOUT_CONTROLS) {
    router.add({
      method: 'POST',
      url: `/v1/rollouts/:id/${control}`,
      action: `rollout.${control}`,
      summary: { pause: 'stop widening', resume: 'continue a paused rollout, or retry a halted ring', approve: 'approve the ring that waits for a person (not by its starter)', abort: 'stop the rollout: devices not yet updated are held' }[control],
      params: idParams,
      body: controlBody,
      audit: { target: (p) => p.id, reason: (b) => b?.reason },
      handler: async ({ principal, params, body }) => {
        const { client } = temporalOf(deps);
        if (control === 'approve') {
          const answer = fourEyes(await rolloutStarter(client, params.id), principal.subject);
          if (!answer.allowed) throw new OperatorError('FOUR_EYES', answer.reason);
        }
        const answer = await controlRollout(client, params.id, control, { reason: body?.reason, by: principal.subject });
        return { id: params.id, action: control, answer };
      },
    });
  }
}
