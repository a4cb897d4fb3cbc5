// `ota-device install` (from an offline bundle) and `ota-device resume` (finish an interrupted install).
import type { Command } from 'commander';
import { installUpdate, resumeInstall, type InstallResult } from '../../device-client/agent/install.js';
import { printResult, progress } from '../output.js';
import { describeInstall } from './describe.js';
import { deviceFrom, explain, openerFor, registerDeviceStep } from './context.js';

export function registerInstallCommands(program: Command): void {
  program
    .command('install <source>')
    .description('install the newest release for this hardware from an offline bundle (folder, tar, file:// URI)')
    .option('--version <semver>', 'a specific release instead of the newest')
    .option('--full', 'full image even when a delta from the installed image exists')
    .option('--json', 'print the result as JSON')
    .action(async (source: string, opts: { version?: string; full?: boolean; json?: boolean }, command: Command) => {
      const device = await deviceFrom(command);
      const openSource = openerFor(device, (line) => progress(opts, line));
      const log = (line: string) => progress(opts, line);
      const journal = await device.journal.read();
      let result: InstallResult;
      try {
        if (journal && journal.source === source && (!opts.version || opts.version === journal.version)) {
          // The same install was cut short: finish it rather than start a second one.
          result = await resumeInstall(device, openSource, log);
        } else {
          const update = await openSource(source);
          try {
            result = await installUpdate(device, { source: update, sourceRef: source, version: opts.version, full: opts.full, log });
          } finally {
            await update.close();
          }
        }
      } catch (error) {
        throw explain(error);
      }
      printResult(opts, result, () => describeInstall(result));
    });

  registerDeviceStep(program, {
    name: 'resume',
    description: 'finish or restart an install that a power cut or crash interrupted',
    run: (device, opts) =>
      resumeInstall(device, openerFor(device, (line) => progress(opts, line)), (line) => progress(opts, line)).catch((error) => {
        throw explain(error);
      }),
    describe: describeInstall,
  });
}
