// `ota gateway`: runs the device gateway in the foreground until SIGTERM/SIGINT.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startGateway } from '../../gateway/server.js';
import { projectRoot } from '../../platform/paths.js';

export function registerGatewayCommands(program: Command): void {
  program
    .command('gateway')
    .description('run the device gateway (HTTP; GET /healthz)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on', '8440')
    .action(async (opts: { host: string; port: string }) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number, got "${opts.port}"`);
      const { version } = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string };
      const gateway = await startGateway({ host: opts.host, port, version });
      process.stderr.write(`ota gateway ${version} listening on ${gateway.url}\n`);
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals) => {
          process.stderr.write(`ota gateway: ${signal}, shutting down\n`);
          gateway.close().then(resolve, resolve);
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
    });
}
