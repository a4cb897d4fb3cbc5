// /v1/audit: the hash-chained audit log, paged forward, and a walk of the whole chain.
import { z } from 'zod';
import type { OperatorDeps } from '../deps.js';
import type { OperatorRouter } from '../route.js';

export function registerAuditRoutes(router: OperatorRouter, deps: OperatorDeps): void {
  router.add({
    method: 'GET',
    url: '/v1/audit',
    action: 'audit.read',
    summary: 'audit entries in order (operator actions and rollout decisions), each with its hash and the previous one',
    query: z.object({ after: z.coerce.number().int().min(0).optional(), target: z.string().max(200).optional(), limit: z.coerce.number().int().min(1).max(5000).optional() }),
    handler: async ({ query }) => ({ entries: await deps.fleet.listAudit(query) }),
  });
  router.add({
    method: 'GET',
    url: '/v1/audit/verify',
    action: 'audit.read',
    summary: 'walk the chain: ok, or the first entry that does not hold and why',
    handler: async () => deps.fleet.verifyAuditChain(),
  });
}
