// `ota-device enroll`: make the device key (if missing) and enroll it with the gateway.
import type { Command } from 'commander';
import { deviceGatewayClient, ensureDeviceCertificate } from '../../device-client/agent/device-certificate.js';
import { deviceKeyFor, enrollDevice, enrollmentToken } from '../../device-client/agent/enroll.js';
import { registerDeviceStep } from './context.js';

export function registerEnrollCommand(program: Command): void {
  registerDeviceStep(program, {
    name: 'enroll',
    description: 'make the device key (if missing) and enroll it: preauthorized, with a per-device token, or with the provisioned factory identity',
    options: (command) => command.option('--token <token>', 'per-device enrollment token from `ota fleet token` (default: the one provisioned, else the environment variable named by enrollment.tokenEnv)'),
    run: async (device, opts: { token?: string; json?: boolean }) => {
      const enrolled = await enrollDevice(device.config, { token: enrollmentToken(device.config, opts.token) });
      if (enrolled.status === 'pending') return { ...enrolled, certificate: undefined };
      // Under mTLS the first client certificate comes right after enrollment (check-ins renew it).
      const certificate = await ensureDeviceCertificate(device.config, deviceGatewayClient(device.config), await deviceKeyFor(device.config));
      return { ...enrolled, certificate };
    },
    describe: (result) =>
      result.status === 'pending'
        ? `pending: ${result.deviceId} presented its factory identity to ${result.gatewayUrl}; an operator must accept it (ota fleet accept ${result.deviceId}), then enroll again`
        : `${result.created ? 'enrolled' : 'already enrolled'}: ${result.deviceId} with ${result.gatewayUrl} (${result.algorithm} key)${result.certificate?.notAfter ? `; client certificate ${result.certificate.serialNumber} until ${result.certificate.notAfter}` : ''}`,
  });
}
