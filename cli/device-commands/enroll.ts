// `ota-device enroll`: make the device key (if missing) and enroll it with the gateway.
import type { Command } from 'commander';
import { enrollDevice, enrollmentToken } from '../../device-client/agent/enroll.js';
import { registerDeviceStep } from './context.js';

export function registerEnrollCommand(program: Command): void {
  registerDeviceStep(program, {
    name: 'enroll',
    description: 'make the device key (if missing) and enroll it: preauthorized, with a per-device token, or with the provisioned factory identity',
    options: (command) => command.option('--token <token>', 'per-device enrollment token from `ota fleet token` (default: the one provisioned, else the environment variable named by enrollment.tokenEnv)'),
    run: (device, opts: { token?: string; json?: boolean }) => enrollDevice(device.config, { token: enrollmentToken(device.config, opts.token) }),
    describe: (result) =>
      result.status === 'pending'
        ? `pending: ${result.deviceId} presented its factory identity to ${result.gatewayUrl}; an operator must accept it (ota fleet accept ${result.deviceId}), then enroll again`
        : `${result.created ? 'enrolled' : 'already enrolled'}: ${result.deviceId} with ${result.gatewayUrl} (${result.algorithm} key)`,
  });
}
