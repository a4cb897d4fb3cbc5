// `ota-device check`: one gateway check-in (boot check, act on the answer, send queued reports).
import type { Command } from 'commander';
import { checkInOnce } from '../../device-client/agent/checkin.js';
import { progress } from '../output.js';
import { registerDeviceStep } from './context.js';
import { describeCheckIn } from './describe.js';

export function registerCheckCommand(program: Command): void {
  registerDeviceStep(program, {
    name: 'check',
    description: 'one gateway check-in: boot check, act on the answer (none, hold, update, rollback), send queued reports',
    run: async (device, opts) => {
      const token = process.env[device.config.enrollment.tokenEnv];
      const result = await checkInOnce(device, { log: (line) => progress(opts, line), enrollmentToken: token });
      if (result.outcome === 'failed' || result.outcome === 'refused') process.exitCode = 1;
      else if (result.outcome === 'offline') process.exitCode = 3;
      return result;
    },
    describe: describeCheckIn,
  });
}
