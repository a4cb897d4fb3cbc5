// Everything the agent works on, built once from the device config: the bootloader backend, the
// two slot devices, the agent's state and install journal, and a scratch folder in the state dir.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { BootloaderBackend } from '../boot/backend.js';
import type { SlotName } from '../boot/boot-state.js';
import { readBootedSlot } from '../boot/booted-slot.js';
import { GrubEnvBackend } from '../boot/grub-env-backend.js';
import { StateFileBackend } from '../boot/state-file-backend.js';
import { UbootEnvBackend } from '../boot/uboot-env-backend.js';
import { SlotDevice } from '../slots/slot-device.js';
import type { BootloaderConfig, DeviceConfig } from '../config.js';
import { AgentStateStore } from './agent-state.js';
import { TpmFloorCounter } from '../tpm/tpm-floor.js';
import { InstallJournalStore } from './install-journal.js';

export interface Device {
  config: DeviceConfig;
  boot: BootloaderBackend;
  slots: Record<SlotName, SlotDevice>;
  agentState: AgentStateStore;
  journal: InstallJournalStore;
  /** Temporary files of an install (patch, base copy, patched image); same filesystem as the state. */
  scratchDir: string;
  /** The slot we run from; `override` is for simulation (`--booted-slot`). */
  bootedSlot(): Promise<SlotName>;
}

export function bootloaderFor(config: BootloaderConfig): BootloaderBackend {
  switch (config.kind) {
    case 'state-file':
      return new StateFileBackend(config.path);
    case 'uboot':
      return new UbootEnvBackend(config.fwEnvConfig);
    case 'grub':
      return new GrubEnvBackend(config.envPath);
  }
}

export async function openDevice(config: DeviceConfig, options: { bootedSlot?: SlotName } = {}): Promise<Device> {
  const scratchDir = join(config.stateDir, 'scratch');
  await mkdir(scratchDir, { recursive: true, mode: 0o700 });
  const capacity = { capacity: config.slots.capacity };
  return {
    config,
    boot: bootloaderFor(config.bootloader),
    slots: { A: new SlotDevice('A', config.slots.A, capacity), B: new SlotDevice('B', config.slots.B, capacity) },
    agentState: new AgentStateStore(config.stateDir, config.deviceId, config.securityFloorPath, config.tpm && new TpmFloorCounter(config.tpm)),
    journal: new InstallJournalStore(config.stateDir),
    scratchDir,
    bootedSlot: async () => options.bootedSlot ?? readBootedSlot(config.cmdlinePath),
  };
}
