// The operator API: one Fastify app (JSON over HTTP, or HTTPS when given a certificate) with the
// routes of operator/routes/, identity from operator/identity.ts, roles from operator/roles.ts, and
// every change in the audit log. `extraRoutes` is the hook for routes other rooms add to the same
// app (a /metrics endpoint, a server-rendered console) before it listens.
import Fastify, { type FastifyInstance } from 'fastify';
import type { OperatorDeps } from './deps.js';
import { OperatorError, type ErrorBody } from './errors.js';
import { Authenticator, type OidcOptions } from './identity.js';
import { openApiDocument } from './openapi.js';
import { OperatorRouter } from './route.js';
import { registerAuditRoutes } from './routes/audit.js';
import { registerFleetRoutes } from './routes/fleet.js';
import { registerReleaseRoutes } from './routes/releases.js';
import { registerRolloutRoutes } from './routes/rollouts.js';
import { registerTrustRoutes } from './routes/trust.js';

export interface OperatorApiOptions extends OperatorDeps {
  version: string;
  oidc?: OidcOptions;
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** pino request logging (off by default: the CLI prints one start line). */
  logger?: boolean;
  /** More routes on the same app, registered before it listens. */
  extraRoutes?: (app: FastifyInstance, context: { authenticator: Authenticator; deps: OperatorDeps }) => void | Promise<void>;
}

/** A policy is the largest body the API takes; nothing bigger is read. */
const BODY_LIMIT = 256 * 1024;

export async function buildOperatorApp(options: OperatorApiOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: BODY_LIMIT, ...(options.tls && { https: { cert: options.tls.cert, key: options.tls.key } }) }) as unknown as FastifyInstance;
  const authenticator = new Authenticator({ oidc: options.oidc, findToken: (token) => options.fleet.findOperatorToken(token) });
  app.setErrorHandler((error, _request, reply) => {
    const body = (code: string, message: string): ErrorBody => ({ error: { code, message } });
    if (error instanceof OperatorError) return reply.status(error.status).send(body(error.code, error.message));
    const status = (error as { statusCode?: number }).statusCode;
    // Fastify's own refusals (body too large, not JSON, wrong content type) keep their status.
    if (status && status >= 400 && status < 500) return reply.status(status).send(body('BAD_REQUEST', (error as Error).message));
    app.log.error(error);
    return reply.status(500).send(body('INTERNAL', 'the operator API failed; its log has the details'));
  });
  app.setNotFoundHandler((request, reply) => reply.status(404).send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` } } satisfies ErrorBody));

  const router = new OperatorRouter(app, authenticator, options.fleet);
  registerReleaseRoutes(router, options);
  registerRolloutRoutes(router, options);
  registerFleetRoutes(router, options);
  registerTrustRoutes(router, options);
  registerAuditRoutes(router, options);
  app.get('/healthz', async () => ({ ok: true, version: options.version }));
  app.get('/openapi.json', async () => openApiDocument(router.declared, options.version));
  await options.extraRoutes?.(app, { authenticator, deps: options });
  return app;
}

export interface RunningOperatorApi {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

export async function startOperatorApi(options: OperatorApiOptions & { host: string; port: number }): Promise<RunningOperatorApi> {
  const app = await buildOperatorApp(options);
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return { url: `${options.tls ? 'https' : 'http'}://${host}:${port}`, app, close: () => app.close() };
}
