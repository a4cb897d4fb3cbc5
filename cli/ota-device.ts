// `ota-device`: the device-side A/B update agent's command line.
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../platform/paths.js';

export function buildDeviceProgram(): Command {
  const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string };
  return new Command('ota-device')
    .description('A/B slot update agent: verifies releases offline, installs to the inactive slot, falls back on failure')
    .version(pkg.version)
    .showHelpAfterError();
}

export async function main(argv: string[]): Promise<void> {
  await buildDeviceProgram().parseAsync(argv);
}
