// `ota-device status`: slots, versions, boot state, stored security version, pending install.
import type { Command } from 'commander';
import { deviceStatus, formatStatus } from '../../device-client/agent/status.js';
import { registerDeviceStep } from './context.js';

export function registerStatusCommand(program: Command): void {
  registerDeviceStep(program, {
    name: 'status',
    description: 'slots, versions, boot state, stored security version, pending install',
    json: 'print as JSON',
    run: (device) => deviceStatus(device),
    describe: formatStatus,
  });
}
