// `ota-device mark-good` and `mark-bad`: commit the running slot, or take it out of the boot rotation, by hand.
import type { Command } from 'commander';
import { markRunningSlotBad, markRunningSlotGood } from '../../device-client/agent/manual-marks.js';
import { registerDeviceStep } from './context.js';
import { describeBootCheck } from './describe.js';

export function registerMarkCommands(program: Command): void {
  registerDeviceStep(program, {
    name: 'mark-good',
    description: 'commit the running slot without running the health checks',
    run: (device) => markRunningSlotGood(device),
    describe: describeBootCheck,
  });
  registerDeviceStep(program, {
    name: 'mark-bad',
    description: 'take the running slot out of the boot rotation: the next boot falls back to the committed slot',
    options: (command) => command.option('--reason <text>', 'why, for the record'),
    run: (device, opts: { reason?: string; json?: boolean }) => markRunningSlotBad(device, opts.reason),
    describe: describeBootCheck,
  });
}
