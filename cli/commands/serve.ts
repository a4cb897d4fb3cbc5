// `ota serve`: the gateway and the Temporal worker in one process, sharing one fleet store.
// This is how the embedded default runs: PGlite allows a single process to open the fleet
// database, so the two halves that meet there must live together. With PostgreSQL, run
// `ota gateway` and `ota worker` as separate processes instead (temporal-dev.yml does).
import { readTrustRoot } from '../../signing/trust-root.js';
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createActivities } from '../../activities/index.js';
import { redact } from '../../fleet/database.js';
import { FleetStore } from '../../fleet/fleet-store.js';
import { startGateway } from '../../gateway/server.js';
import { createGatewayMetrics } from '../../metrics/gateway-metrics.js';
import { createRegistry } from '../../metrics/registry.js';
import { fleetRolloutSnapshot, registerRolloutMetrics } from '../../metrics/rollout-metrics.js';
import { projectRoot } from '../../platform/paths.js';
import { openArtifactStore } from '../../stores/open-store.js';
import { describeTransport } from '../../temporal/connection-options.js';
import { createWorker } from '../../temporal/worker.js';
import { configFrom } from '../context.js';
import { startApiFromFlags, withApiOptions, type ApiFlags } from './api.js';
import { loadGatewayAnswerKey } from './gateway-answer-key.js';
import { gatewayDeviceIdentity, gatewayTls, insecureSharedToken, positiveInt, releasePolicy, withGatewayOptions, type GatewayFlags } from './gateway.js';
import { startTrustRefreshSchedule } from './worker.js';

export function registerServeCommand(program: Command): void {
  withApiOptions(withGatewayOptions(program.command('serve').description('run the device gateway and the Temporal worker in one process (the embedded default)'))
    .option('--log-level <level>', 'worker log level: DEBUG, INFO, WARN, ERROR', 'WARN'))
    .action(async (opts: GatewayFlags & ApiFlags & { logLevel: string }, command: Command) => {
      const config = configFrom(command);
      const { version } = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string };
      Runtime.install({ logger: new DefaultLogger(opts.logLevel.toUpperCase() as 'WARN') });
      const fleet = await FleetStore.open(config.fleet.databaseUrl);
      const store = openArtifactStore(config.store);
      // One /metrics on the gateway port for both halves (docs/metrics.md).
      const registry = createRegistry('serve');
      registerRolloutMetrics(registry, fleetRolloutSnapshot(async () => fleet));
      const gateway = await startGateway({
        metrics: createGatewayMetrics(registry),
        host: opts.host,
        port: Number(opts.port),
        version,
        fleet,
        store,
        insecureSharedToken: insecureSharedToken(opts, config.gateway.insecureSharedToken),
        nonceTtlSeconds: positiveInt('--nonce-ttl', opts.nonceTtl),
        pollAfterSeconds: positiveInt('--poll-after', opts.pollAfter),
        releasePolicy: releasePolicy(opts.releasePolicy),
        tls: gatewayTls(opts),
        deviceIdentity: await gatewayDeviceIdentity(opts, config.identity.caDir),
        answerKey: await loadGatewayAnswerKey(config.gateway.answerKeyPath),
        attestation: config.gateway.attestation,
        drift: config.gateway.drift,
        onDemandDeltas: config.gateway.onDemandDeltas,
        sigstoreTrustRoot: await readTrustRoot(config.trust.trustedRootPath),
        keepAliveTimeoutSeconds: config.gateway.keepAliveTimeoutSeconds,
        nextNonceTtlSeconds: config.gateway.nextNonceTtlSeconds, tlsSessionSeconds: config.gateway.tlsSessionSeconds,
      });
      const { worker, connection } = await createWorker(config.temporal, createActivities(config, { fleet: async () => fleet }));
      await startTrustRefreshSchedule(config);
      const api = await startApiFromFlags(config, opts, fleet, store);
      process.stderr.write(
        `ota serve ${version}: gateway on ${gateway.url}, worker on ${config.temporal.address}/${config.temporal.namespace}/${config.temporal.taskQueue} over ${describeTransport(config.temporal)}${api ? `, operator API on ${api.url}` : ''} (fleet ${redact(config.fleet.databaseUrl)}, store ${store.location})\n`,
      );
      const stop = (signal: NodeJS.Signals) => {
        process.stderr.write(`ota serve: ${signal}, shutting down\n`);
        worker.shutdown();
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      try {
        await worker.run();
      } finally {
        await gateway.close().catch(() => undefined);
        await api?.close().catch(() => undefined);
        await connection.close().catch(() => undefined);
        await Promise.all([fleet.close(), store.close()]).catch(() => undefined);
      }
    });
}
