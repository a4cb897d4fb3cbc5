// Which slot are we running from? The bootloader scripts (docs/device-boot.md) put it on the
// kernel command line as ota.slot=A|B; RAUC-style rauc.slot= is accepted too. The bootloader
// environment alone cannot say this: after a fallback, BOOT_ORDER still names the failed slot first.
import { readFile } from 'node:fs/promises';
import { BootStateError, isSlotName, type SlotName } from './boot-state.js';

const SLOT_PARAMETERS = ['ota.slot', 'rauc.slot'];

export function bootedSlotFromCmdline(cmdline: string): SlotName {
  const params = new Map<string, string>();
  for (const word of cmdline.trim().split(/\s+/)) {
    const eq = word.indexOf('=');
    if (eq > 0) params.set(word.slice(0, eq), word.slice(eq + 1)); // the last one wins, as in the kernel
  }
  for (const name of SLOT_PARAMETERS) {
    const value = params.get(name);
    if (value === undefined) continue;
    if (!isSlotName(value)) throw new BootStateError(`kernel command line has ${name}=${value}; expected A or B`);
    return value;
  }
  throw new BootStateError(`kernel command line names no slot (expected ${SLOT_PARAMETERS.map((p) => `${p}=A|B`).join(' or ')})`);
}

export async function readBootedSlot(cmdlinePath = '/proc/cmdline'): Promise<SlotName> {
  return bootedSlotFromCmdline(await readFile(cmdlinePath, 'utf8'));
}
