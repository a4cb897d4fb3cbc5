// `ota health`: runs the health workflow end to end (client -> Temporal -> worker -> activity).
import type { Command } from 'commander';
import { connectClient } from '../../temporal/client.js';
import { printResult } from '../output.js';
import { configFrom } from '../context.js';

export function registerHealthCommand(program: Command): void {
  program
    .command('health')
    .description('check that Temporal and a worker answer on the configured task queue')
    .option('--timeout <seconds>', 'give up after this long if no worker answers', '30')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { timeout: string; json?: boolean }, command: Command) => {
      const config = configFrom(command);
      const { client, close } = await connectClient(config.temporal);
      try {
        const result = await client.workflow.execute('healthWorkflow', {
          taskQueue: config.temporal.taskQueue,
          workflowId: `health-${Date.now()}`,
          args: ['ping'],
          workflowExecutionTimeout: `${Number(opts.timeout)}s`,
        });
        printResult(opts, result, () => `healthy: worker pid ${result.worker.pid} on ${result.worker.hostname} answered on task queue ${result.taskQueue}`);
      } catch (err) {
        throw new Error(`health workflow did not complete (is \`ota worker\` running on task queue ${config.temporal.taskQueue}?): ${(err as Error).message}`);
      } finally {
        await close();
      }
    });
}
