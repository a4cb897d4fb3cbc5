// `ota`: the operators' and CI's command line. Each command group lives in cli/commands/.
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../platform/paths.js';
import { registerApiCommand } from './commands/api.js';
import { registerAuditCommand } from './commands/audit.js';
import { registerConfigCommand } from './commands/config.js';
import { registerDeltaCommands } from './commands/delta.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerDevCommands } from './commands/dev.js';
import { registerFleetCommands } from './commands/fleet.js';
import { registerGatewayCommands } from './commands/gateway.js';
import { registerHealthCommand } from './commands/health.js';
import { registerKeysCommands } from './commands/keys.js';
import { registerOperatorCommands } from './commands/operator.js';
import { registerTrustCommands } from './commands/trust.js';
import { registerApprovalCommands } from './commands/release-approve.js';
import { registerReleaseCommands } from './commands/release.js';
import { registerRolloutCommands } from './commands/rollout.js';
import { registerServeCommand } from './commands/serve.js';
import { registerVerifyCommand } from './commands/verify.js';
import { registerWorkerCommand } from './commands/worker.js';

export function buildProgram(): Command {
  const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string };
  const program = new Command('ota')
    .description('Zero-trust firmware releases and canary rollouts for IoT edge fleets')
    .version(pkg.version)
    .showHelpAfterError()
    // Program options only before the command: `ota release publish --version 1.2.0` is the release's version.
    .enablePositionalOptions();
  addConfigOptions(program);
  // Command groups register themselves here, one line each.
  registerConfigCommand(program);
  registerWorkerCommand(program);
  registerHealthCommand(program);
  registerReleaseCommands(program);
  registerVerifyCommand(program);
  registerRolloutCommands(program);
  registerServeCommand(program);
  registerKeysCommands(program);
  registerTrustCommands(program);
  registerApprovalCommands(program);
  registerDemoCommand(program);
  registerDevCommands(program);
  registerGatewayCommands(program);
  registerFleetCommands(program);
  registerDeltaCommands(program);
  registerApiCommand(program);
  registerOperatorCommands(program);
  registerAuditCommand(program);
  for (const command of leafCommands(program)) addConfigOptions(command);
  return program;
}

/** --config and --set work before or after any command. */
function addConfigOptions(command: Command): void {
  command
    .option('-c, --config <file>', 'configuration file (JSON or YAML); default ./ota.config.yml if present')
    .option('--set <path=value...>', 'override one config value, e.g. --set temporal.address=10.0.0.5:7233')
    .option('--verbose', 'on failure, print the full error with its causes and stacks (also OTA_VERBOSE=1)');
}

function leafCommands(command: Command): Command[] {
  return command.commands.length === 0 ? [command] : command.commands.flatMap(leafCommands);
}

export { failureReport, isVerbose } from './failure-report.js';

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
