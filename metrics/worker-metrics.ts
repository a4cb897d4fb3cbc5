// The worker's /metrics: rollouts and ring health from the fleet store, plus the Temporal SDK's own
// worker metrics (task slots, poll latency, workflow and activity counts) from its loopback exporter.
import type { FleetStore } from '../fleet/fleet-store.js';
import { fetchTemporalMetrics, startMetricsServer, type RunningMetricsServer } from './metrics-server.js';
import { createRegistry, renderMetrics } from './registry.js';
import { fleetRolloutSnapshot, registerRolloutMetrics } from './rollout-metrics.js';

export interface WorkerMetricsOptions {
  host: string;
  port: number;
  fleet: () => Promise<FleetStore>;
  /** http://host:port/metrics of the Temporal core exporter (Runtime.install); none: our metrics only. */
  temporalMetricsUrl?: string;
}

export async function startWorkerMetrics(opts: WorkerMetricsOptions): Promise<RunningMetricsServer> {
  const registry = createRegistry('worker');
  registerRolloutMetrics(registry, fleetRolloutSnapshot(opts.fleet));
  const temporalUrl = opts.temporalMetricsUrl;
  return startMetricsServer({
    host: opts.host,
    port: opts.port,
    render: async () => renderMetrics([registry], temporalUrl ? [await fetchTemporalMetrics(temporalUrl)] : []),
  });
}
