// `ota config show`: the effective configuration and where each value came from.
import type { Command } from 'commander';
import { printResult } from '../output.js';
import { configFrom } from '../context.js';

export function registerConfigCommand(program: Command): void {
  program
    .command('config')
    .description('inspect configuration')
    .command('show')
    .description('print the effective configuration (defaults < file < OTA_* env < --set) and each value\'s source')
    .option('--json', 'print as JSON')
    .action((opts: { json?: boolean }, command: Command) => {
      const { sources, ...config } = configFrom(command);
      // A secret shown is a secret leaked (terminals, CI logs): say that it is set, not what it is.
      if (config.temporal.apiKey) config.temporal.apiKey = '(set, hidden)';
      if (config.store.kind === 's3' && config.store.credentials) config.store.credentials.secretAccessKey = '(set, hidden)';
      printResult(opts, { config, sources }, () =>
        Object.entries(sources)
          .map(([path, source]) => `${path} = ${JSON.stringify(path.split('.').reduce<any>((node, key) => node?.[key], config))}  (${source})`)
          .join('\n'),
      );
    });
}
