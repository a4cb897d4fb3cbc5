// `ota worker`: runs the Temporal worker for our workflows and activities until stopped.
import type { Command } from 'commander';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createActivities } from '../../activities/index.js';
import { FleetStore } from '../../fleet/fleet-store.js';
import { temporalPrometheusTelemetry } from '../../metrics/metrics-server.js';
import { startWorkerMetrics } from '../../metrics/worker-metrics.js';
import { freePort } from '../../platform/free-port.js';
import { describeTransport } from '../../temporal/connection-options.js';
import type { Config } from '../../schemas/config.js';
import { DEFAULT_FRESHNESS, scheduleTrustRefresh } from '../../temporal/trust-schedule.js';
import { scheduleDeltaDispatch } from '../../temporal/delta-schedule.js';
import { createWorker } from '../../temporal/worker.js';
import { configFrom } from '../context.js';

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run the Temporal worker (release pipeline, rollouts) on the configured task queue')
    .option('--log-level <level>', 'worker log level: DEBUG, INFO, WARN, ERROR', 'WARN')
    .option('--metrics-port <port>', 'serve Prometheus metrics (rollouts, rings, the Temporal SDK worker) on GET /metrics at this port (docs/metrics.md)')
    .option('--metrics-host <host>', 'address for --metrics-port', '127.0.0.1')
    .action(async (opts: { logLevel: string; metricsPort?: string; metricsHost: string }, command: Command) => {
      const config = configFrom(command);
      const metricsPort = opts.metricsPort === undefined ? undefined : Number(opts.metricsPort);
      if (metricsPort !== undefined && (!Number.isInteger(metricsPort) || metricsPort < 0 || metricsPort > 65535)) throw new Error(`--metrics-port must be a port number, got "${opts.metricsPort}"`);
      // The SDK's exporter listens on loopback only; our /metrics folds its text in.
      const temporalMetrics = metricsPort === undefined ? undefined : `127.0.0.1:${await freePort()}`;
      Runtime.install({ logger: new DefaultLogger(opts.logLevel.toUpperCase() as 'WARN'), ...(temporalMetrics ? { telemetryOptions: temporalPrometheusTelemetry(temporalMetrics) } : {}) });
      // One fleet store for the activities and the gauges: PGlite allows a single opener.
      let fleet: Promise<FleetStore> | undefined;
      const openFleet = () => (fleet ??= FleetStore.open(config.fleet.databaseUrl));
      const { worker, connection } = await createWorker(config.temporal, createActivities(config, { fleet: openFleet }));
      const metrics = metricsPort === undefined ? undefined : await startWorkerMetrics({ host: opts.metricsHost, port: metricsPort, fleet: openFleet, temporalMetricsUrl: `http://${temporalMetrics}/metrics` });
      if (metrics) console.log(`worker metrics on ${metrics.url}`);
      await startTrustRefreshSchedule(config);
      const stop = () => worker.shutdown();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      console.log(`worker polling ${config.temporal.address} namespace=${config.temporal.namespace} taskQueue=${config.temporal.taskQueue} (${describeTransport(config.temporal)})`);
      await worker.run();
      await metrics?.close();
      await connection.close();
      await (await fleet?.catch(() => undefined))?.close();
      console.log('worker stopped');
    });
}

/** The freshness schedule (temporal/trust-schedule.ts), created or updated as configured; a failure is said, not fatal. */
export async function startTrustRefreshSchedule(config: Config): Promise<void> {
  const freshness = config.trust.freshness ?? DEFAULT_FRESHNESS;
  try {
    const outcome = await scheduleTrustRefresh(config.temporal, freshness);
    process.stderr.write(`TUF freshness schedule ${outcome}: snapshot and timestamp re-signed every ${freshness.refreshEveryMinutes} min, valid ${freshness.expiryHours} h\n`);
  } catch (err) {
    process.stderr.write(`warning: could not create the TUF freshness schedule: ${(err as Error).message}\n`);
  }
  await startDeltaDispatchSchedule(config);
}

/** With gateway.onDemandDeltas on: the schedule that starts delta workflows for gateways' requests (temporal/delta-schedule.ts). */
async function startDeltaDispatchSchedule(config: Config): Promise<void> {
  const onDemand = config.gateway.onDemandDeltas;
  if (!onDemand?.enabled) return;
  try {
    const outcome = await scheduleDeltaDispatch(config.temporal, onDemand.dispatchEverySeconds);
    process.stderr.write(`on-demand delta schedule ${outcome}: requests dispatched every ${onDemand.dispatchEverySeconds} s\n`);
  } catch (err) {
    process.stderr.write(`warning: could not create the on-demand delta schedule: ${(err as Error).message}\n`);
  }
}
