// What the device gateway counts: check-ins, reports and heartbeats by outcome (and reports by state
// and failure kind), request latency per route, bytes served by artifact kind, rate-limit refusals,
// and certificate renewals (defined now, counted once device certificates renew through the gateway).
import { Counter, Histogram, type Registry } from 'prom-client';

/** Seconds; device API answers are milliseconds, downloads of full images can take minutes. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120];

/** What a served download was, as far as the gateway knows: hinted at check-in, or by its path. */
export type ServedKind = 'delta' | 'full' | 'release-document' | 'tuf' | 'other';

export interface GatewayMetrics {
  registry: Registry;
  requests: Counter<'route' | 'method' | 'status'>;
  requestSeconds: Histogram<'route' | 'method'>;
  checkins: Counter<'outcome'>;
  reports: Counter<'outcome' | 'state' | 'failure_kind'>;
  heartbeats: Counter<'outcome'>;
  servedBytes: Counter<'kind'>;
  rateLimited: Counter<'route'>;
  certificateRenewals: Counter<'outcome'>;
}

export function createGatewayMetrics(registry: Registry): GatewayMetrics {
  const registers = [registry];
  return {
    registry,
    requests: new Counter({ name: 'ota_gateway_requests_total', help: 'Requests answered, by route, method and HTTP status', labelNames: ['route', 'method', 'status'], registers }),
    requestSeconds: new Histogram({ name: 'ota_gateway_request_duration_seconds', help: 'Time to answer a request, by route and method', labelNames: ['route', 'method'], buckets: LATENCY_BUCKETS, registers }),
    checkins: new Counter({ name: 'ota_gateway_checkins_total', help: 'Check-ins by outcome: the answer (none, update, hold, rollback) or the refusal code', labelNames: ['outcome'], registers }),
    reports: new Counter({
      name: 'ota_gateway_reports_total',
      help: 'Health reports by outcome (accepted or the refusal code), reported state and failure kind',
      labelNames: ['outcome', 'state', 'failure_kind'],
      registers,
    }),
    heartbeats: new Counter({ name: 'ota_gateway_heartbeats_total', help: 'Heartbeats by outcome (accepted or the refusal code)', labelNames: ['outcome'], registers }),
    servedBytes: new Counter({ name: 'ota_gateway_served_bytes_total', help: 'Bytes of completed downloads, by artifact kind (delta, full, release-document, tuf, other)', labelNames: ['kind'], registers }),
    rateLimited: new Counter({ name: 'ota_gateway_rate_limited_total', help: 'Requests refused with 429 by the per-address or per-device limits, by route', labelNames: ['route'], registers }),
    certificateRenewals: new Counter({ name: 'ota_gateway_certificate_renewals_total', help: 'Device certificate renewals by outcome', labelNames: ['outcome'], registers }),
  };
}
