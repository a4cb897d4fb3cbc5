// `ota-device retry`: an operator clears a release that failed its boot check on this device, so the
// agent installs it again when the gateway offers it (the gateway side is `ota fleet retry`).
import type { Command } from 'commander';
import { clearFailedReleases } from '../../device-client/agent/agent-state.js';
import { registerDeviceStep } from './context.js';

export function registerRetryCommand(program: Command): void {
  registerDeviceStep(program, {
    name: 'retry',
    description: 'install a release that failed its boot check here again when it is offered (default: every failed release)',
    options: (command) => command.option('--release <version>', 'only this release'),
    run: async (device, opts: { release?: string; json?: boolean }) => {
      let cleared: string[] = [];
      await device.agentState.update((state) => {
        const result = clearFailedReleases(state, opts.release);
        cleared = result.cleared;
        return result.state;
      });
      if (cleared.length === 0) process.exitCode = 1;
      return { cleared, ...(cleared.length === 0 ? { reason: `no failed release${opts.release ? ` ${opts.release}` : ''} recorded on this device` } : {}) };
    },
    describe: (r: { cleared: string[]; reason?: string }) => (r.cleared.length ? `cleared: ${r.cleared.join(', ')} will be installed again when offered` : r.reason!),
  });
}
