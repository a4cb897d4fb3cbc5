// A simulated A/B device for the agent tests: two file slots (A holds a factory image followed by
// stale bytes, as a partition longer than its image would), a state-file bootloader, a fake kernel
// command line that a simulated reboot rewrites, the pinned trust root, and the agent's state dir.
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { simulateBoot, type BootOutcome, type SlotName } from '../../device-client/boot/boot-state.js';
import { StateFileBackend } from '../../device-client/boot/state-file-backend.js';
import { parseDeviceConfig, type DeviceConfig } from '../../device-client/config.js';
import { openDevice, type Device } from '../../device-client/agent/device.js';
import { provisionDevice } from '../../device-client/agent/provision.js';
import { measureBoot } from '../../device-client/boot/measured-boot.js';
import { DEVICE_HARDWARE, type PublishedFixture, type SampleRelease } from './device-releases.js';

export interface SimDevice {
  dir: string;
  configPath: string;
  config: DeviceConfig;
  bootStatePath: string;
  /** One agent run's view of the device (a fresh process would build the same). */
  open(): Promise<Device>;
  /** Power-cycle: the bootloader picks a slot (spending a try on a trial boot), the kernel command line says which. */
  reboot(): Promise<BootOutcome>;
  bootedSlot(): Promise<SlotName>;
}

export interface SimDeviceOptions {
  factory: SampleRelease;
  /** Extra fields merged into the device config (health checks, bootTries, ...). */
  config?: Record<string, unknown>;
  securityVersion?: number;
  /** A TPM (test/support/swtpm.ts): the simulated bootloader measures each boot into config.tpm.pcr. */
  tpm?: { tcti: string };
}

/** Bytes after the factory image in slot A: a slot is longer than its image. */
export const SLOT_TAIL = Buffer.alloc(64 * 1024, 0xa5);

export async function createSimDevice(dir: string, fixture: PublishedFixture, options: SimDeviceOptions): Promise<SimDevice> {
  await mkdir(join(dir, 'state'), { recursive: true });
  const slotA = join(dir, 'slot-a.img');
  const slotB = join(dir, 'slot-b.img');
  await writeFile(slotA, Buffer.concat([await readFile(options.factory.imagePath), SLOT_TAIL]));
  await writeFile(slotB, Buffer.alloc(4096, 0x5a));
  const trustedRootPath = join(dir, 'trusted_root.json');
  await copyFile(fixture.trustedRootPath, trustedRootPath);
  const cmdlinePath = join(dir, 'cmdline');
  await writeFile(cmdlinePath, 'console=ttyS0 root=/dev/mmcblk0p2 ota.slot=A\n');
  const bootStatePath = join(dir, 'boot-state.json');
  const doc = {
    deviceId: `sim-${Math.random().toString(36).slice(2, 8)}`,
    hardwareId: DEVICE_HARDWARE,
    slots: { A: 'slot-a.img', B: 'slot-b.img' },
    bootloader: { kind: 'state-file', path: 'boot-state.json' },
    cmdlinePath: 'cmdline',
    trust: { trustedRootPath: 'trusted_root.json' },
    stateDir: 'state',
    // The agent tests talk plain HTTP to their gateway (a lab); the mTLS tests turn it off and pin the fleet CA.
    transport: { insecurePlainHttp: true },
    ...(options.tpm && { tpm: { tcti: options.tpm.tcti } }),
    ...options.config,
  };
  const configPath = join(dir, 'device.json');
  await writeFile(configPath, `${JSON.stringify(doc, null, 2)}\n`);
  const config = parseDeviceConfig(doc, dir, configPath);
  const open = () => openDevice(config);
  await provisionDevice(await open(), {
    slot: 'A',
    version: options.factory.version,
    securityVersion: options.securityVersion ?? options.factory.securityVersion,
    length: options.factory.length,
    writeBootState: true,
  });
  // The measured bootloader's part of a power-on: hash what the booted slot holds into the boot PCR.
  const measure = async (slot: SlotName) => {
    if (!config.tpm) return;
    const device = await open();
    const image = (await device.agentState.read()).slots[slot];
    if (image) await measureBoot(config.tpm, config.tpm.pcr, device.slots[slot], { hardwareId: config.hardwareId, version: image.version, length: image.length });
  };
  await measure('A');
  return {
    dir,
    configPath,
    config,
    bootStatePath,
    open,
    async reboot() {
      const backend = new StateFileBackend(bootStatePath);
      const outcome = simulateBoot(await backend.read());
      if (!outcome.slot) throw new Error('simulated bootloader found no bootable slot (recovery)');
      if (outcome.trial) await backend.write(outcome.state);
      await writeFile(cmdlinePath, `console=ttyS0 ota.slot=${outcome.slot}\n`);
      await measure(outcome.slot);
      return outcome;
    },
    async bootedSlot() {
      return (await open()).bootedSlot();
    },
  };
}
