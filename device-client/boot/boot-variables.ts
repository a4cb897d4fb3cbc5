// BootState <-> bootloader environment variables, RAUC's names plus a committed flag per slot:
//   BOOT_ORDER="A B"   BOOT_A_LEFT=3 BOOT_B_LEFT=0   BOOT_A_GOOD=1 BOOT_B_GOOD=0
// Shared by the U-Boot and GRUB backends so both environments read the same way.
import { BootStateError, SLOTS, isSlotName, validateBootState, type BootState, type SlotName } from './boot-state.js';

export type BootVariables = Record<string, string>;

export const leftVariable = (slot: SlotName) => `BOOT_${slot}_LEFT`;
export const goodVariable = (slot: SlotName) => `BOOT_${slot}_GOOD`;
export const ORDER_VARIABLE = 'BOOT_ORDER';
export const BOOT_VARIABLE_NAMES: readonly string[] = [ORDER_VARIABLE, ...SLOTS.flatMap((s) => [leftVariable(s), goodVariable(s)])];

export function bootStateToVariables(state: BootState): BootVariables {
  validateBootState(state);
  const vars: BootVariables = { [ORDER_VARIABLE]: state.order.join(' ') };
  for (const slot of SLOTS) {
    vars[leftVariable(slot)] = String(state.tries[slot]);
    vars[goodVariable(slot)] = state.good[slot] ? '1' : '0';
  }
  return vars;
}

/** Strict: a missing or odd variable is an error naming it, never a silent default. */
export function variablesToBootState(vars: BootVariables, where: string): BootState {
  const missing = BOOT_VARIABLE_NAMES.filter((name) => vars[name] === undefined);
  if (missing.length) throw new BootStateError(`${where}: missing boot variable(s) ${missing.join(', ')}`);
  const order = vars[ORDER_VARIABLE]!.trim().split(/\s+/);
  if (order.length !== 2 || !order.every(isSlotName)) {
    throw new BootStateError(`${where}: ${ORDER_VARIABLE} must be "A B" or "B A" (got ${JSON.stringify(vars[ORDER_VARIABLE])})`);
  }
  const state: BootState = { order: [order[0]!, order[1]!] as [SlotName, SlotName], tries: { A: 0, B: 0 }, good: { A: false, B: false } };
  for (const slot of SLOTS) {
    const left = vars[leftVariable(slot)]!;
    if (!/^\d+$/.test(left)) throw new BootStateError(`${where}: ${leftVariable(slot)} must be a decimal count (got ${JSON.stringify(left)})`);
    state.tries[slot] = Number(left);
    const good = vars[goodVariable(slot)]!;
    if (good !== '0' && good !== '1') throw new BootStateError(`${where}: ${goodVariable(slot)} must be 0 or 1 (got ${JSON.stringify(good)})`);
    state.good[slot] = good === '1';
  }
  try {
    return validateBootState(state);
  } catch (error) {
    throw new BootStateError(`${where}: ${(error as Error).message}`);
  }
}

/** Parses `NAME=value` lines as printed by `fw_printenv` and `grub-editenv list`. */
export function parseVariableListing(text: string): BootVariables {
  const vars: BootVariables = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) vars[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return vars;
}
