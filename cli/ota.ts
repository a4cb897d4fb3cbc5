// `ota`: the operators' and CI's command line. Each command group lives in cli/commands/.
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../platform/paths.js';

export function buildProgram(): Command {
  const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string };
  const program = new Command('ota')
    .description('Zero-trust firmware releases and canary rollouts for IoT edge fleets')
    .version(pkg.version)
    .option('-c, --config <file>', 'configuration file (JSON or YAML); default ota.config.yml if present')
    .showHelpAfterError();
  // Command groups register themselves here, one line each.
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
