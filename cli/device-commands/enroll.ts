// `ota-device enroll`: make the device key (if missing) and enroll it with the gateway.
import type { Command } from 'commander';
import { enrollDevice, enrollmentToken } from '../../device-client/agent/enroll.js';
import { registerDeviceStep } from './context.js';

export function registerEnrollCommand(program: Command): void {
  registerDeviceStep(program, {
    name: 'enroll',
    description: 'make the device key (if missing) and enroll it with the gateway using a one-time token',
    options: (command) => command.option('--token <token>', 'enrollment token (default: the environment variable named by enrollment.tokenEnv)'),
    run: (device, opts: { token?: string; json?: boolean }) => enrollDevice(device.config, { token: enrollmentToken(device.config, opts.token) }),
    describe: (result) => `${result.created ? 'enrolled' : 'already enrolled'}: ${result.deviceId} with ${result.gatewayUrl} (${result.algorithm} key)`,
  });
}
