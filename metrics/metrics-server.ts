// A process's own /metrics endpoint (the worker has no HTTP server of its own), and the Temporal
// SDK's exporter folded into it, so Prometheus scrapes one address per process.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MetricsText } from './registry.js';

export interface RunningMetricsServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** GET /metrics answers render(); everything else 404. A failed render is a 500 with one line, the process goes on. */
export async function startMetricsServer(opts: { host: string; port: number; render: () => Promise<MetricsText> }): Promise<RunningMetricsServer> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://metrics').pathname;
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics here\n');
      return;
    }
    opts.render().then(
      ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : body),
      (error: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(error as Error).message}\n`),
    );
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((listening, failed) => server.once('error', failed).listen(opts.port, opts.host, () => listening()));
  const { address, family, port } = server.address() as AddressInfo;
  const close = () => new Promise<void>((done) => server.close(() => done()).closeIdleConnections());
  return { server, url: `http://${family === 'IPv6' ? `[${address}]` : address}:${port}/metrics`, close };
}

/** Temporal core's Prometheus exporter (Runtime.install telemetryOptions), bound to loopback. */
export function temporalPrometheusTelemetry(bindAddress: string) {
  return { metrics: { prometheus: { bindAddress, countersTotalSuffix: true, useSecondsForDurations: true } } };
}

/** The text of the Temporal SDK's exporter; a comment line instead when it does not answer (the scrape still succeeds). */
export async function fetchTemporalMetrics(url: string, timeoutMs = 2_000): Promise<string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return `# temporal sdk metrics unavailable: HTTP ${res.status}\n`;
    return await res.text();
  } catch (error) {
    return `# temporal sdk metrics unavailable: ${(error as Error).message}\n`;
  }
}
