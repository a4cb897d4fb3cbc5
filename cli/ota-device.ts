// `ota-device`: the device-side A/B update agent's command line. Each command lives in cli/device-commands/.
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../platform/paths.js';
import { registerBootCheckCommand } from './device-commands/boot-check.js';
import { registerCheckCommand } from './device-commands/check.js';
import { addDeviceOptions } from './device-commands/context.js';
import { registerEnrollCommand } from './device-commands/enroll.js';
import { registerInstallCommands } from './device-commands/install.js';
import { registerMarkCommands } from './device-commands/marks.js';
import { registerProvisionCommand } from './device-commands/provision.js';
import { registerRetryCommand } from './device-commands/retry.js';
import { registerRunCommand } from './device-commands/run.js';
import { registerStatusCommand } from './device-commands/status.js';

export function buildDeviceProgram(): Command {
  const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string };
  const program = new Command('ota-device')
    .description('A/B slot update agent: verifies releases offline, installs to the inactive slot, falls back on failure')
    .version(pkg.version)
    .showHelpAfterError()
    // Program options only before the command: `ota-device install --version 1.2.0 B` is the release's version.
    .enablePositionalOptions();
  addDeviceOptions(program);
  registerProvisionCommand(program);
  registerInstallCommands(program); // install, resume
  registerBootCheckCommand(program);
  registerMarkCommands(program); // mark-good, mark-bad
  registerStatusCommand(program);
  registerEnrollCommand(program);
  registerCheckCommand(program);
  registerRunCommand(program);
  registerRetryCommand(program);
  // --config and --booted-slot work before or after any command.
  for (const command of program.commands) addDeviceOptions(command);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildDeviceProgram().parseAsync(argv);
}
