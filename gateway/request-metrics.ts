// Feeds the gateway's Prometheus metrics (metrics/gateway-metrics.ts) from each finished request:
// handlers note what happened (noteOutcome), the hook started in server.ts counts it when the
// answer is sent. Route labels are the fixed endpoint paths or a download prefix, so bounded.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayMetrics, ServedKind } from '../metrics/gateway-metrics.js';
import { renderMetrics } from '../metrics/registry.js';
import type { ArtifactHint } from '../schemas/device-api.js';

export interface RequestOutcome {
  /** The answer (e.g. update, accepted) or the refusal code. */
  outcome: string;
  state?: string;
  failureKind?: string;
  /** The artifact a check-in hinted at: a later download of that path counts as its kind. */
  artifact?: ArtifactHint;
}

const outcomes = new WeakMap<ServerResponse, RequestOutcome>();

/** Says what this request came to; the last note wins (a refusal after a partial answer). */
export function noteOutcome(res: ServerResponse, outcome: RequestOutcome): void {
  outcomes.set(res, { ...outcomes.get(res), ...outcome });
}

const FIXED_ROUTES = new Set(['/healthz', '/metrics', '/v1/enroll', '/v1/nonce', '/v1/checkin', '/v1/reports', '/v1/heartbeats']);
const DOWNLOAD_ROUTES = ['/v1/artifacts/', '/v1/releases/', '/v1/tuf/'];

export function routeOf(path: string): string {
  if (FIXED_ROUTES.has(path)) return path;
  const prefix = DOWNLOAD_ROUTES.find((p) => path.startsWith(p));
  return prefix ? `${prefix}*` : 'other';
}

/** Hinted download paths and their kind; oldest forgotten first, so memory stays bounded. */
class HintedKinds {
  private readonly kinds = new Map<string, 'delta' | 'full'>();
  constructor(private readonly limit = 4096) {}
  remember(url: string, kind: 'delta' | 'full'): void {
    this.kinds.delete(url);
    this.kinds.set(url, kind);
    if (this.kinds.size > this.limit) this.kinds.delete(this.kinds.keys().next().value!);
  }
  kindOf(path: string): ServedKind {
    const hinted = this.kinds.get(path);
    if (hinted) return hinted;
    if (path.startsWith('/v1/releases/') || path.startsWith('/v1/artifacts/releases/')) return 'release-document';
    return path.startsWith('/v1/tuf/') ? 'tuf' : 'other';
  }
}

/**
 * Body bytes actually sent, reported once the response closes (finished, or cut mid-download):
 * headers given to writeHead are not readable afterwards, and a resumed download sends a part.
 */
function countBodyBytes(res: ServerResponse, report: (bytes: number) => void): void {
  let bytes = 0;
  const size = (chunk: unknown) => (typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk instanceof Uint8Array ? chunk.byteLength : 0);
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    bytes += size(chunk);
    return write(chunk, ...rest);
  }) as ServerResponse['write'];
  res.end = ((chunk?: unknown, ...rest: unknown[]) => {
    if (typeof chunk !== 'function') bytes += size(chunk);
    return end(chunk, ...rest);
  }) as ServerResponse['end'];
  res.once('close', () => {
    if (bytes > 0 && res.statusCode < 300) report(bytes);
  });
}

export interface GatewayInstruments {
  /** Starts timing one request; counts it when its answer is sent. */
  observe(req: IncomingMessage, res: ServerResponse): void;
  /** GET /metrics. */
  serve(res: ServerResponse): Promise<void>;
}

export function gatewayInstruments(metrics: GatewayMetrics): GatewayInstruments {
  const hinted = new HintedKinds();
  return {
    observe(req, res) {
      const started = process.hrtime.bigint();
      const path = new URL(req.url ?? '/', 'http://gateway').pathname;
      const method = req.method ?? 'GET';
      res.once('finish', () => {
        const route = routeOf(path);
        const status = res.statusCode;
        metrics.requests.inc({ route, method, status: String(status) });
        metrics.requestSeconds.observe({ route, method }, Number(process.hrtime.bigint() - started) / 1e9);
        const noted = outcomes.get(res);
        const outcome = noted?.outcome ?? String(status);
        if (route === '/v1/checkin') metrics.checkins.inc({ outcome });
        if (route === '/v1/reports') metrics.reports.inc({ outcome, state: noted?.state ?? 'none', failure_kind: noted?.failureKind ?? 'none' });
        if (route === '/v1/heartbeats') metrics.heartbeats.inc({ outcome });
        if (status === 429) metrics.rateLimited.inc({ route });
        if (noted?.artifact) hinted.remember(noted.artifact.url, noted.artifact.kind);
      });
      if (method === 'GET' && DOWNLOAD_ROUTES.some((p) => path.startsWith(p))) countBodyBytes(res, (bytes) => metrics.servedBytes.inc({ kind: hinted.kindOf(path) }, bytes));
    },
    async serve(res) {
      const { contentType, body } = await renderMetrics([metrics.registry]);
      res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
      res.end(body);
    },
  };
}
