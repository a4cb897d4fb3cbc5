// The Temporal dev server for a bench, started here rather than by TestWorkflowEnvironment.createLocal:
// the CLI prints its banner to the stdout it inherits, which broke the bench's `--json` output
// (temporalio/features#675). Here its output goes to a log file; the server keeps its state in memory.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { freePort } from './project.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts `temporal server start-dev` on a free loopback port; resolves once the namespace answers. */
export async function startTemporalDevServer({ executable, namespace, searchAttributes = [], log, timeoutMs = 60_000 }) {
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const out = openSync(log, 'a');
  const args = ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port), '--namespace', namespace, '--log-level', 'warn'];
  const child = spawn(executable, [...args, ...searchAttributes.flatMap((name) => ['--search-attribute', `${name}=Keyword`])], { stdio: ['ignore', out, out] });
  closeSync(out);
  let exit;
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve((exit = signal ?? `code ${code}`))));
  const stopChild = async () => {
    if (exit === undefined) child.kill('SIGTERM');
    await exited;
  };

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exit !== undefined) throw new Error(`the Temporal dev server exited (${exit}) before answering; see ${log}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        await connection.workflowService.describeNamespace({ namespace });
        const client = new Client({ connection, namespace });
        return {
          address,
          client,
          async stop() {
            await connection.close();
            await stopChild();
          },
        };
      } catch (err) {
        await connection.close();
        throw err;
      }
    } catch (err) {
      if (Date.now() > deadline) {
        await stopChild();
        throw new Error(`the Temporal dev server at ${address} did not answer within ${timeoutMs / 1000} s (${err.message}); see ${log}`);
      }
      await sleep(250);
    }
  }
}
