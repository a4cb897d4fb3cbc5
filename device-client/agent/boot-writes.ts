// Every change of the boot state goes through here: one atomic backend write between two named
// crash points, so the power-cut harness can cut power just before and just after each write.
import { updateBootState } from '../boot/backend.js';
import type { BootState } from '../boot/boot-state.js';
import { crashPoint } from './crash-points.js';
import type { Device } from './device.js';

export async function writeBootState(device: Device, label: string, change: (state: BootState) => BootState): Promise<BootState> {
  crashPoint(`${label}:before-boot-write`);
  const next = await updateBootState(device.boot, change);
  crashPoint(`${label}:after-boot-write`);
  return next;
}

/** Out of the rotation: the bootloader will not pick the slot (no tries left, not committed). */
export function outOfRotation(state: BootState, slot: 'A' | 'B'): boolean {
  return !state.good[slot] && state.tries[slot] === 0;
}
