// One way to declare an operator API route: its zod schemas, the action it needs, and (for changes)
// what the audit log records. The same declaration registers the Fastify route, validates the
// request, checks the role, writes the audit entry and feeds the OpenAPI document.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { FleetStore } from '../fleet/fleet-store.js';
import { describeZodIssues } from '../platform/zod-issues.js';
import { OperatorError } from './errors.js';
import type { Authenticator, Principal } from './identity.js';
import { mayPerform, rolesFor, type OperatorAction } from './roles.js';

export interface RouteInput<P, Q, B> {
  principal: Principal;
  params: P;
  query: Q;
  body: B;
}

export interface RouteSpec<P = Record<string, never>, Q = Record<string, never>, B = undefined> {
  method: 'GET' | 'POST';
  /** Fastify style: /v1/rollouts/:id */
  url: string;
  action: OperatorAction;
  summary: string;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  /** A change: the audit log gets one entry per call (allowed or refused) with this target and reason. */
  audit?: { target: (params: P, body: B | undefined, result?: unknown) => string; reason?: (body: B | undefined) => string | undefined };
  /** Raw bytes instead of JSON (content type given). */
  raw?: string;
  handler: (input: RouteInput<P, Q, B>) => Promise<unknown>;
}

export interface DeclaredRoute {
  method: string;
  url: string;
  action: OperatorAction;
  summary: string;
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  raw?: string;
}

export class OperatorRouter {
  readonly declared: DeclaredRoute[] = [];
  constructor(
    private readonly app: FastifyInstance,
    private readonly authenticator: Authenticator,
    private readonly fleet: FleetStore,
  ) {}

  add<P, Q, B>(spec: RouteSpec<P, Q, B>): void {
    this.declared.push({ method: spec.method, url: spec.url, action: spec.action, summary: spec.summary, params: spec.params, query: spec.query, body: spec.body, raw: spec.raw });
    this.app.route({
      method: spec.method,
      url: spec.url,
      handler: async (request, reply) => {
        const result = await this.run(spec, request);
        if (spec.raw) return reply.type(spec.raw).send(result);
        return result;
      },
    });
  }

  private async run<P, Q, B>(spec: RouteSpec<P, Q, B>, request: FastifyRequest): Promise<unknown> {
    let principal: Principal | undefined;
    try {
      principal = await this.authenticator.authenticate(request.headers.authorization);
      const params = parse(spec.params, request.params, 'path') as P;
      const body = parse(spec.body, request.body ?? {}, 'body') as B;
      const query = parse(spec.query, request.query, 'query') as Q;
      if (!mayPerform(principal.role, spec.action)) {
        throw new OperatorError('FORBIDDEN', `${principal.subject} (${principal.role}) may not ${spec.action}: it needs one of ${rolesFor(spec.action).join(', ')}`);
      }
      const result = await spec.handler({ principal, params, query, body });
      await this.record(spec, principal, request, { result: 'ok' }, result);
      return result;
    } catch (error) {
      const code = error instanceof OperatorError ? error.code : 'INTERNAL';
      const refused = error instanceof OperatorError && error.status < 500;
      await this.record(spec, principal, request, { result: refused ? 'refused' : 'failed', code, message: (error as Error).message });
      throw error;
    }
  }

  private async record<P, Q, B>(spec: RouteSpec<P, Q, B>, principal: Principal | undefined, request: FastifyRequest, outcome: { result: 'ok' | 'refused' | 'failed'; code?: string; message?: string }, result?: unknown): Promise<void> {
    if (!spec.audit) return;
    // Target and reason even when the caller was refused before its request was read: parsed
    // here on their own, falling back to the route when they do not parse.
    const params = spec.params ? spec.params.safeParse(request.params) : { success: true as const, data: {} as P };
    const body = spec.body?.safeParse(request.body ?? {});
    const bodyData = body?.success ? body.data : undefined;
    const target = params.success ? spec.audit.target(params.data, bodyData, result) : spec.url;
    await this.fleet.appendAudit({
      actor: principal?.subject ?? 'anonymous',
      role: principal?.role ?? 'none',
      action: spec.action,
      target: target.slice(0, 200),
      reason: spec.audit.reason?.(bodyData) ?? null,
      result: outcome.result,
      detail: { via: principal?.via ?? 'none', ...(outcome.code && { code: outcome.code }), ...(outcome.message && { message: outcome.message.slice(0, 500) }) },
    });
  }
}

function parse<T>(schema: z.ZodType<T> | undefined, value: unknown, where: string): T | undefined {
  if (!schema) return undefined;
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new OperatorError('BAD_REQUEST', `${where}: ${describeZodIssues(parsed.error)}`);
  return parsed.data;
}
