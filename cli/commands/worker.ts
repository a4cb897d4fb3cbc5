// `ota worker`: runs the Temporal worker for our workflows and activities until stopped.
import type { Command } from 'commander';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createActivities } from '../../activities/index.js';
import { describeTransport } from '../../temporal/connection-options.js';
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
      const stop = () => worker.shutdown();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      console.log(`worker polling ${config.temporal.address} namespace=${config.temporal.namespace} taskQueue=${config.temporal.taskQueue} (${describeTransport(config.temporal)})`);
      await worker.run();
      await connection.close();
      console.log('worker stopped');
    });
}
