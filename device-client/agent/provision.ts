// First setup of a device (factory or test fixture): the slot holding the factory image is
// recorded with its digest, the boot state is created with that slot committed, and the stored
// security version starts at the factory image's.
// Provisioning again (--force, or after the state was wiped) never lowers the anti-rollback floor:
// the floor is the higher of the agent state's and the floor record's (state/security-floor.ts),
// and a factory image below it is refused unless an operator-signed reset statement for this
// device allows it (state/floor-reset.ts). Every check runs before the first write.
import { chmod, mkdir, stat } from 'node:fs/promises';
import { CodedError } from '../../platform/coded-error.js';
import { initialBootState, markBad, type SlotName } from '../boot/boot-state.js';
import { sha256Of } from '../slots/slot-digest.js';
import { agentStateSchema, initialAgentState, type AgentState } from './agent-state.js';
import type { Device } from './device.js';
import { InstallRefusedError } from './errors.js';
import { verifyFloorReset, type FloorResetFiles } from '../state/floor-reset.js';
import { AgentStateError, readJsonFile } from '../state/json-file.js';

export interface ProvisionOptions {
  slot: SlotName;
  version: string;
  /** The factory image's security version; default the device's current floor (0 on a new device). */
  securityVersion?: number;
  /** Image length; default the whole slot file. */
  length?: number;
  /** Also create the boot state (state-file backend, or an env already set up with fw tools / grub-editenv). */
  writeBootState?: boolean;
  force?: boolean;
  /** An operator-signed statement allowing a floor below the current one. */
  floorReset?: FloorResetFiles;
  now?: Date;
}

/** Provisioning asked for a security version below the device's floor, without a reset statement. */
export class SecurityFloorLowerRefusedError extends CodedError<'SECURITY_FLOOR_LOWER_REFUSED'> {
  constructor(message: string) {
    super('SECURITY_FLOOR_LOWER_REFUSED', message);
  }
}

export interface ProvisionResult {
  state: AgentState;
  /** The floor before, and whether a reset statement lowered it. */
  previousFloor: number;
  floorReset: boolean;
}

/** The floor a provisioning must respect: the higher of a (possibly corrupt) state's and the record's. */
async function currentFloor(device: Device): Promise<{ floor: number; resets: number; tpmFloor: number }> {
  const record = await device.agentState.floor.read();
  const state = await readJsonFile(device.agentState.path, agentStateSchema).catch((error: unknown) => {
    // A corrupt state is replaced by provisioning; its floor cannot be read, the record's still holds.
    if (error instanceof AgentStateError) return undefined;
    throw error;
  });
  const tpmFloor = (await device.agentState.tpmFloor?.read()) ?? 0;
  return { floor: Math.max(record?.floor ?? 0, state?.securityVersion ?? 0, tpmFloor), resets: record?.resets ?? 0, tpmFloor };
}

export async function provisionDevice(device: Device, options: ProvisionOptions): Promise<ProvisionResult> {
  if (!options.force && (await device.agentState.exists())) {
    throw new InstallRefusedError(`device already provisioned (${device.agentState.path}); use --force to start over`);
  }
  const { floor, resets, tpmFloor } = await currentFloor(device);
  const securityVersion = options.securityVersion ?? floor;
  const lowering = securityVersion < floor;
  if (securityVersion < tpmFloor) {
    throw new SecurityFloorLowerRefusedError(`security version ${securityVersion} is below this device's anti-rollback floor ${tpmFloor}, held by a TPM NV counter that only goes up: no file reset or reset statement lowers it`);
  }
  if (lowering) {
    if (!options.floorReset) {
      throw new SecurityFloorLowerRefusedError(
        `security version ${securityVersion} is below this device's anti-rollback floor ${floor}: provisioning cannot lower it without an operator-signed reset statement (--floor-reset; reset sequence ${resets})`,
      );
    }
    await verifyFloorReset(options.floorReset, { deviceId: device.config.deviceId, resets, requestedFloor: securityVersion, trust: device.config.trust, now: options.now });
  }
  // Keys, floor and state live here: owner only, also when the folder came from the image wider.
  await mkdir(device.config.stateDir, { recursive: true, mode: 0o700 });
  await chmod(device.config.stateDir, 0o700);
  const slot = device.slots[options.slot];
  const length = options.length ?? (await stat(slot.path)).size;
  const sha256 = await sha256Of(slot, length);
  const state = initialAgentState(device.config.hardwareId, options.slot, { version: options.version, sha256, length, securityVersion });
  if (options.writeBootState) {
    // initialBootState commits A; a factory image in B is committed by taking A out instead.
    const boot = options.slot === 'A' ? initialBootState(device.config.bootTries) : markBad({ ...initialBootState(device.config.bootTries), good: { A: true, B: true } }, 'A');
    await device.boot.write(boot);
  }
  if (lowering) await device.agentState.writeLoweredFloor(state, resets);
  else await device.agentState.write(state);
  await device.journal.clear();
  return { state, previousFloor: floor, floorReset: lowering };
}
