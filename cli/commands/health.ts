// `ota health`: runs the health workflow end to end (client -> Temporal -> worker -> activity).
import type { Command } from 'commander';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createActivities } from '../../activities/index.js';
import { connectClient } from '../../temporal/client.js';
import { createWorker } from '../../temporal/worker.js';
import { healthWorkflow, type HealthResult } from '../../workflows/health.js';
import { printResult } from '../output.js';
import { configFrom } from '../context.js';

export function registerHealthCommand(program: Command): void {
  program
    .command('health')
    .description('check that Temporal and a worker answer on the configured task queue')
    .option('--timeout <seconds>', 'give up after this long if no worker answers', '30')
    .option('--worker <mode>', 'remote: an `ota worker` must answer; inline: run one in this process', 'remote')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { timeout: string; worker: string; json?: boolean }, command: Command) => {
      const config = configFrom(command);
      const { client, close } = await connectClient(config.temporal);
      try {
        const execution = client.workflow.execute(healthWorkflow, {
          taskQueue: config.temporal.taskQueue,
          workflowId: `health-${Date.now()}`,
          args: ['ping'],
          workflowExecutionTimeout: `${Number(opts.timeout)}s`,
        });
        let result: HealthResult;
        if (opts.worker === 'inline') {
          Runtime.install({ logger: new DefaultLogger('ERROR') });
          const { worker, connection } = await createWorker(config.temporal, createActivities(config));
          result = await worker.runUntil(execution).finally(() => connection.close());
        } else {
          result = await execution;
        }
        printResult(opts, result, () => `healthy: worker pid ${result.worker.pid} on ${result.worker.hostname} answered on task queue ${result.taskQueue}`);
      } catch (err) {
        throw new Error(`health workflow did not complete (is \`ota worker\` running on task queue ${config.temporal.taskQueue}?): ${(err as Error).message}`);
      } finally {
        await close();
      }
    });
}
