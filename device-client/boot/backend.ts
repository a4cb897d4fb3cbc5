// What every bootloader backend provides. The state machine in boot-state.ts is the same on all
// of them; a backend only maps BootState to its storage, and `write` is one atomic operation.
import type { BootState } from './boot-state.js';

export interface BootloaderBackend {
  /** Short name for logs and test titles, e.g. "state-file", "u-boot", "grub". */
  readonly kind: string;
  /** The stored state; throws if it is missing or unreadable rather than guessing. */
  read(): Promise<BootState>;
  /** Replace the whole stored state in one atomic step: a reader sees the old or the new state. */
  write(state: BootState): Promise<void>;
}

/** Read, change, write: the one way callers update the stored state. */
export async function updateBootState(backend: BootloaderBackend, change: (state: BootState) => BootState): Promise<BootState> {
  const next = change(await backend.read());
  await backend.write(next);
  return next;
}
