// `ota worker`: runs the Temporal worker for our workflows and activities until stopped.
import type { Command } from 'commander';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createActivities } from '../../activities/index.js';
import { describeTransport } from '../../temporal/connection-options.js';
import type { Config } from '../../schemas/config.js';
import { DEFAULT_FRESHNESS, scheduleTrustRefresh } from '../../temporal/trust-schedule.js';
import { createWorker } from '../../temporal/worker.js';
import { configFrom } from '../context.js';

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run the Temporal worker (release pipeline, rollouts) on the configured task queue')
    .option('--log-level <level>', 'worker log level: DEBUG, INFO, WARN, ERROR', 'WARN')
    .action(async (opts: { logLevel: string }, command: Command) => {
      const config = configFrom(command);
      Runtime.install({ logger: new DefaultLogger(opts.logLevel.toUpperCase() as 'WARN') });
      const { worker, connection } = await createWorker(config.temporal, createActivities(config));
      await startTrustRefreshSchedule(config);
      const stop = () => worker.shutdown();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      console.log(`worker polling ${config.temporal.address} namespace=${config.temporal.namespace} taskQueue=${config.temporal.taskQueue} (${describeTransport(config.temporal)})`);
      await worker.run();
      await connection.close();
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
}
