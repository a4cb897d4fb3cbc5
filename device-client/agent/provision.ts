// First setup of a device (factory or test fixture): the slot holding the factory image is
// recorded with its digest, the boot state is created with that slot committed, and the stored
// security version starts at the factory image's.
import { mkdir, stat } from 'node:fs/promises';
import { initialBootState, markBad, type SlotName } from '../boot/boot-state.js';
import { sha256Of } from '../slots/slot-digest.js';
import { initialAgentState, type AgentState } from './agent-state.js';
import type { Device } from './device.js';
import { InstallRefusedError } from './errors.js';

export interface ProvisionOptions {
  slot: SlotName;
  version: string;
  securityVersion: number;
  /** Image length; default the whole slot file. */
  length?: number;
  /** Also create the boot state (state-file backend, or an env already set up with fw tools / grub-editenv). */
  writeBootState?: boolean;
  force?: boolean;
}

export async function provisionDevice(device: Device, options: ProvisionOptions): Promise<AgentState> {
  if (!options.force && (await device.agentState.exists())) {
    throw new InstallRefusedError(`device already provisioned (${device.agentState.path}); use --force to start over`);
  }
  await mkdir(device.config.stateDir, { recursive: true });
  const slot = device.slots[options.slot];
  const length = options.length ?? (await stat(slot.path)).size;
  const sha256 = await sha256Of(slot, length);
  const state = initialAgentState(device.config.hardwareId, options.slot, { version: options.version, sha256, length, securityVersion: options.securityVersion });
  if (options.writeBootState) {
    // initialBootState commits A; a factory image in B is committed by taking A out instead.
    const boot = options.slot === 'A' ? initialBootState(device.config.bootTries) : markBad({ ...initialBootState(device.config.bootTries), good: { A: true, B: true } }, 'A');
    await device.boot.write(boot);
  }
  await device.agentState.write(state);
  await device.journal.clear();
  return state;
}
