// Shared plumbing for the `ota-device` commands: the device from --config/--booted-slot (before or
// after the command), source openers for installs, and release refusals explained.
import { Option, type Command } from 'commander';
import { isSlotName, type SlotName } from '../../device-client/boot/boot-state.js';
import { loadDeviceConfig } from '../../device-client/config.js';
import { openDevice, type Device } from '../../device-client/agent/device.js';
import { sourceOpener, type GatewaySourceSettings } from '../../device-client/agent/sources.js';
import { CodedError } from '../../platform/coded-error.js';
import { ReleaseRejectedError } from '../../verification/errors.js';
import { printResult, type OutputOptions } from '../output.js';

interface DeviceGlobalOptions {
  config?: string;
  bootedSlot?: string;
}

/** --config and --booted-slot, on the program and on every command. */
export function addDeviceOptions(command: Command): void {
  command
    .option('-c, --config <file>', 'device configuration (JSON or YAML); default $OTA_DEVICE_CONFIG')
    .addOption(new Option('--booted-slot <slot>', 'the running slot, instead of ota.slot= on the kernel command line (simulation)').choices(['A', 'B']));
}

export async function deviceFrom(command: Command): Promise<Device> {
  // Given after the command (its own options) or before it (the program's).
  const own = command.opts() as DeviceGlobalOptions;
  const top = (command.parent?.opts() ?? {}) as DeviceGlobalOptions;
  const file = own.config ?? top.config ?? process.env.OTA_DEVICE_CONFIG;
  if (!file) throw new Error('no device configuration: pass --config FILE or set OTA_DEVICE_CONFIG');
  const slot = own.bootedSlot ?? top.bootedSlot;
  let bootedSlot: SlotName | undefined;
  if (slot !== undefined) {
    if (!isSlotName(slot)) throw new Error(`--booted-slot: expected A or B, got "${slot}"`);
    bootedSlot = slot;
  }
  return openDevice(await loadDeviceConfig(file), { bootedSlot });
}

/** Offline bundles, and `gateway:` sources for resuming an install that came from the gateway. */
export function openerFor(device: Device, log?: (line: string) => void) {
  const gateway: GatewaySourceSettings = { stateDir: device.config.stateDir, retry: device.config.download, log };
  return sourceOpener(device.scratchDir, gateway);
}

/** Release rejections and other coded refusals (SECURITY_FLOOR_LOWER_REFUSED, ...) carry a code worth showing. */
export function explain(error: unknown): Error {
  if (error instanceof ReleaseRejectedError) return new Error(`release refused (${error.code}): ${error.message}`);
  if (error instanceof CodedError) return new Error(`refused (${error.code}): ${error.message}`);
  return error as Error;
}

export interface DeviceStepCommand<R, O extends OutputOptions> {
  name: string;
  description: string;
  /** Options of its own, listed before --json. */
  options?: (command: Command) => void;
  /** Help text of --json. */
  json?: string;
  run: (device: Device, opts: O) => Promise<R>;
  describe: (result: R) => string;
}

/** A command that opens the device, runs one step and prints its result (text, or JSON with --json). */
export function registerDeviceStep<R, O extends OutputOptions>(program: Command, spec: DeviceStepCommand<R, O>): void {
  const command = program.command(spec.name).description(spec.description);
  spec.options?.(command);
  command.option('--json', spec.json ?? 'print the result as JSON').action(async (opts: O, self: Command) => {
    const result = await spec.run(await deviceFrom(self), opts);
    printResult(opts, result, () => spec.describe(result));
  });
}
