// `ota-device boot-check`: after a boot, run the health checks and commit the slot or mark it bad.
import type { Command } from 'commander';
import { bootCheck } from '../../device-client/agent/boot-check.js';
import { registerDeviceStep } from './context.js';
import { describeBootCheck } from './describe.js';

export function registerBootCheckCommand(program: Command): void {
  registerDeviceStep(program, {
    name: 'boot-check',
    description: 'after a boot: run the health checks and commit the new slot, or mark it bad so the next boot falls back',
    run: async (device) => {
      const result = await bootCheck(device);
      if (result.outcome === 'health-failed') process.exitCode = 2;
      return result;
    },
    describe: describeBootCheck,
  });
}
