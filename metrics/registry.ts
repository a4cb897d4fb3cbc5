// Prometheus registries and the text a scrape gets. Each process (gateway, worker, operator API) owns
// one registry with a `service` label; a process that runs several parts (`ota serve`) merges them.
import { collectDefaultMetrics, Registry } from 'prom-client';

export type { Registry } from 'prom-client';

/** A registry for one service, with the Node process metrics (CPU, memory, event loop lag) once per process. */
export function createRegistry(service: string, options: { processMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}

export interface MetricsText {
  contentType: string;
  body: string;
}

/**
 * The exposition text of these registries, then `extra` texts (e.g. the Temporal SDK's own exporter)
 * appended as they are. An operator API (Fastify) answers `reply.type(contentType).send(body)`.
 */
export async function renderMetrics(registries: Registry[], extra: string[] = []): Promise<MetricsText> {
  const merged = registries.length === 1 ? registries[0]! : Registry.merge(registries);
  const own = await merged.metrics();
  return { contentType: merged.contentType, body: [own, ...extra.filter((t) => t.trim())].map((t) => (t.endsWith('\n') ? t : `${t}\n`)).join('') };
}

/** The subset of a Fastify reply a /metrics route needs (no Fastify import here). */
export interface MetricsReply {
  type(contentType: string): { send(body: string): unknown };
}

/** A GET /metrics handler for a Fastify app: `app.get('/metrics', metricsHandler([registry]))`. */
export function metricsHandler(registries: Registry[]): (request: unknown, reply: MetricsReply) => Promise<unknown> {
  return async (_request, reply) => {
    const { contentType, body } = await renderMetrics(registries);
    return reply.type(contentType).send(body);
  };
}
