// The A/B boot state and the pure decisions on it, in the style of RAUC's bootchooser.
// No I/O: every backend (state file, U-Boot env, GRUB env) only maps this state to its variables,
// and `simulateBoot` models the bootloader script so tests can "reboot" without hardware.

// Type-only: the slot names are the device API's (one definition), and this module stays free of runtime imports.
import type { SlotName } from '../../schemas/device-api.js';

export type { SlotName };
export const SLOTS: readonly SlotName[] = ['A', 'B'];

export interface BootState {
  /** BOOT_ORDER: the bootloader tries slots in this order. Always a permutation of A and B. */
  order: [SlotName, SlotName];
  /** BOOT_x_LEFT: boot attempts left for a slot that is not committed yet. */
  tries: Record<SlotName, number>;
  /** BOOT_x_GOOD: the slot's image was committed (booted and passed its health check). */
  good: Record<SlotName, boolean>;
}

/** Tries a fresh install gets unless told otherwise (RAUC's default). */
export const DEFAULT_TRIES = 3;
/**
 * U-Boot's `setexpr` prints hexadecimal and GRUB has no arithmetic (its script counts down with
 * an if-chain), so counters stay single digits, where decimal and hexadecimal agree.
 */
export const MAX_TRIES = 9;

export class BootStateError extends Error {
  override name = 'BootStateError';
}

export function otherSlot(slot: SlotName): SlotName {
  return slot === 'A' ? 'B' : 'A';
}

export function isSlotName(value: unknown): value is SlotName {
  return value === 'A' || value === 'B';
}

/** A freshly provisioned device: A holds the factory image and is committed, B is empty. */
export function initialBootState(tries = DEFAULT_TRIES): BootState {
  checkTries(tries);
  return { order: ['A', 'B'], tries: { A: tries, B: 0 }, good: { A: true, B: false } };
}

/** Throws a BootStateError naming the first broken rule; returns the state for chaining. */
export function validateBootState(state: BootState): BootState {
  const [first, second] = state.order ?? [];
  if (state.order?.length !== 2 || !isSlotName(first) || !isSlotName(second) || first === second) {
    throw new BootStateError(`boot order must be "A B" or "B A" (got ${JSON.stringify(state.order)})`);
  }
  for (const slot of SLOTS) {
    const tries = state.tries?.[slot];
    if (!Number.isInteger(tries) || tries < 0 || tries > MAX_TRIES) {
      throw new BootStateError(`tries for slot ${slot} must be an integer 0..${MAX_TRIES} (got ${JSON.stringify(tries)})`);
    }
    if (typeof state.good?.[slot] !== 'boolean') {
      throw new BootStateError(`good flag for slot ${slot} must be a boolean (got ${JSON.stringify(state.good?.[slot])})`);
    }
  }
  return state;
}

/**
 * Whether the bootloader may pick the slot: a committed slot always boots (it spends no tries,
 * so a good system never falls back by itself); an uncommitted one only while it has tries left.
 */
export function isBootable(state: BootState, slot: SlotName): boolean {
  return state.good[slot] || state.tries[slot] > 0;
}

export type BootOutcome =
  | { slot: SlotName; trial: boolean; state: BootState }
  /** Nothing bootable: the bootloader script stops in its recovery path. The invariants keep this unreachable. */
  | { slot: null; trial: false; state: BootState };

/**
 * One power-on, as the U-Boot/GRUB scripts in docs/device-boot.md do it: walk BOOT_ORDER, boot the
 * first committed slot as is, or the first uncommitted slot with tries left after spending one try.
 */
export function simulateBoot(state: BootState): BootOutcome {
  validateBootState(state);
  for (const slot of state.order) {
    if (state.good[slot]) return { slot, trial: false, state: cloneState(state) };
    if (state.tries[slot] > 0) {
      const next = cloneState(state);
      next.tries[slot] -= 1;
      return { slot, trial: true, state: next };
    }
  }
  return { slot: null, trial: false, state: cloneState(state) };
}

/** The primary slot: the one the bootloader will pick at the next boot (null if none). */
export function primarySlot(state: BootState): SlotName | null {
  return simulateBoot(state).slot;
}

/** The slot an update may be written to: never the one we are running from. */
export function chooseInstallTarget(state: BootState, booted: SlotName): SlotName {
  validateBootState(state);
  return otherSlot(booted);
}

/**
 * Make a freshly written slot the one to try first with `tries` attempts, keeping the other as
 * the fallback. Refused unless the fallback is committed: if the new image fails, the device
 * must still have a known-good system to fall back to.
 */
export function markActive(state: BootState, slot: SlotName, tries: number = DEFAULT_TRIES): BootState {
  validateBootState(state);
  checkTries(tries);
  if (tries < 1) throw new BootStateError(`markActive(${slot}) needs at least 1 try (got ${tries})`);
  const fallback = otherSlot(slot);
  if (!state.good[fallback]) {
    throw new BootStateError(
      `refusing to activate slot ${slot}: its fallback slot ${fallback} is not committed (good), ` +
        `so a failing ${slot} would leave no bootable slot; commit ${fallback} first`,
    );
  }
  const next = cloneState(state);
  next.order = [slot, fallback];
  next.tries[slot] = tries;
  next.good[slot] = false;
  return next;
}

/** Commit a slot after it booted and passed its health check: it stays bootable without spending tries. */
export function markGood(state: BootState, slot: SlotName, tries: number = DEFAULT_TRIES): BootState {
  validateBootState(state);
  checkTries(tries);
  const next = cloneState(state);
  next.good[slot] = true;
  // Reset the counter so a committed slot reads the same whichever way it got committed.
  next.tries[slot] = tries;
  return next;
}

/**
 * Take a slot out of rotation: no tries, not committed, moved behind the other slot. Used when a
 * trial boot fails its health check, and before streaming an image into a slot (a half-written
 * slot must never be a fallback). Refused for the only committed slot.
 */
export function markBad(state: BootState, slot: SlotName): BootState {
  validateBootState(state);
  const other = otherSlot(slot);
  if (!state.good[other]) {
    throw new BootStateError(
      `refusing to mark slot ${slot} bad: slot ${other} is not committed (good), so no known-good slot would be left`,
    );
  }
  const next = cloneState(state);
  next.tries[slot] = 0;
  next.good[slot] = false;
  next.order = [other, slot];
  return next;
}

export function cloneState(state: BootState): BootState {
  return { order: [state.order[0], state.order[1]], tries: { ...state.tries }, good: { ...state.good } };
}

export function sameBootState(a: BootState, b: BootState): boolean {
  return JSON.stringify(cloneState(a)) === JSON.stringify(cloneState(b));
}

function checkTries(tries: number): void {
  if (!Number.isInteger(tries) || tries < 0 || tries > MAX_TRIES) {
    throw new BootStateError(`tries must be an integer 0..${MAX_TRIES} (got ${tries})`);
  }
}
