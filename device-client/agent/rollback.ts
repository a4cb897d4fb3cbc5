// A rollback the gateway ordered (a rollout halted on bad health): go back to targetVersion.
//   the other slot still holds targetVersion's image (the agent state says so, the digest the
//   gateway names agrees, and re-hashing the slot proves it) -> markActive(other, tries): the next
//   boot tries it and the boot check commits it, exactly like a fresh install
//   otherwise -> reinstall targetVersion through the normal install flow (full image or delta,
//   verified offline), with the version downgrade allowed
// Either way the anti-rollback rule holds: an image below the stored security version is refused
// (SecurityVersionDowngradeError), whatever the gateway says, and the way back by slot is only to
// the device's own previously committed slot: an image there that never passed its boot check is
// not booted on the gateway's word (ROLLBACK_TARGET_NOT_COMMITTED).
import { markActive, otherSlot, type SlotName } from '../boot/boot-state.js';
import { sha256Of } from '../slots/slot-digest.js';
import { CodedError } from '../../platform/coded-error.js';
import { SecurityVersionDowngradeError } from '../../verification/errors.js';
import { event } from './agent-state.js';
import { writeBootState } from './boot-writes.js';
import type { Device } from './device.js';
import { InstallRefusedError } from './errors.js';
import { installUpdate, type InstallResult } from './install.js';
import type { UpdateSource } from './update-source.js';

/** A rollback order the device will not carry out by switching slots. */
export class RollbackRefusedError extends CodedError<'ROLLBACK_TARGET_NOT_COMMITTED'> {}

export interface RollbackTarget {
  version: string;
  /** sha256 of targetVersion's image, if the gateway knows it. */
  imageSha256?: string;
  reason: string;
}

export type RollbackResult =
  | { outcome: 'already-running'; slot: SlotName; version: string }
  | { outcome: 'switched'; slot: SlotName; version: string; left: { slot: SlotName; version?: string }; tries: number }
  | { outcome: 'reinstalled'; left: { slot: SlotName; version?: string }; install: InstallResult };

/** Whether the other slot verifiably holds the target image (record, gateway digest, slot bytes). */
async function otherSlotHolds(device: Device, booted: SlotName, target: RollbackTarget): Promise<boolean> {
  const other = otherSlot(booted);
  const image = (await device.agentState.read()).slots[other];
  if (!image || image.version !== target.version) return false;
  if (target.imageSha256 && image.sha256 !== target.imageSha256) return false;
  // The record could be stale (a torn write, a slot touched outside the agent): trust bytes only.
  return (await sha256Of(device.slots[other], image.length).catch(() => '')) === image.sha256;
}

/**
 * `reinstallFrom` is opened only when the other slot cannot be used (a gateway source for the
 * target release). Throws SecurityVersionDowngradeError when the target is below the stored
 * security version, InstallRefusedError when nothing can be done (trial boot, no release to install).
 */
export async function rollBack(
  device: Device,
  target: RollbackTarget,
  reinstallFrom: (() => Promise<{ source: UpdateSource; sourceRef: string }>) | undefined,
  log: (line: string) => void = () => undefined,
): Promise<RollbackResult> {
  const booted = await device.bootedSlot();
  const boot = await device.boot.read();
  const agent = await device.agentState.read();
  const running = agent.slots[booted];
  if (running?.version === target.version && (!target.imageSha256 || running.sha256 === target.imageSha256)) {
    return { outcome: 'already-running', slot: booted, version: target.version };
  }
  if (!boot.good[booted]) throw new InstallRefusedError(`slot ${booted} is on a trial boot: run the boot check before rolling back`);
  const left = { slot: booted, version: running?.version };

  const other = otherSlot(booted);
  const holds = await otherSlotHolds(device, booted, target);
  if (holds && !boot.good[other] && !reinstallFrom) {
    throw new RollbackRefusedError('ROLLBACK_TARGET_NOT_COMMITTED', `rollback to ${target.version} refused: slot ${other} holds it but was never committed on this device`);
  }
  if (holds && boot.good[other]) {
    const image = agent.slots[other]!;
    if (image.securityVersion < agent.securityVersion) {
      throw new SecurityVersionDowngradeError(
        `rollback to ${target.version} refused: its image has security version ${image.securityVersion}, below the device's ${agent.securityVersion}`,
      );
    }
    log(`rollback: slot ${other} still holds ${target.version} (verified); switching boot back to it`);
    await writeBootState(device, 'rollback:activate', (s) => markActive(s, other, device.config.bootTries));
    await device.agentState.update((s) => ({
      ...s,
      pendingBoot: { slot: other, activatedAt: new Date().toISOString() },
      lastEvent: event('installed', { slot: other, version: target.version, reason: `rollback: ${target.reason}` }),
    }));
    return { outcome: 'switched', slot: other, version: target.version, left, tries: device.config.bootTries };
  }

  if (!reinstallFrom) throw new InstallRefusedError(`rollback to ${target.version}: the other slot does not hold it and the gateway offered no release to reinstall`);
  log(`rollback: slot ${other} does not hold ${target.version}; reinstalling it`);
  const { source, sourceRef } = await reinstallFrom();
  try {
    const install = await installUpdate(device, { source, sourceRef, version: target.version, allowVersionDowngrade: true, log });
    return { outcome: 'reinstalled', left, install };
  } finally {
    await source.close();
  }
}
