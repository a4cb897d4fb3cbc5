// Boot state in a plain JSON file: the backend for simulation and tests, and for devices whose
// bootloader reads a file of its own. Writes go through writeFileAtomic (temp, fsync, rename, fsync dir).
import { readFile } from 'node:fs/promises';
import type { BootloaderBackend } from './backend.js';
import { BootStateError, cloneState, validateBootState, type BootState } from './boot-state.js';
import { writeFileAtomic } from '../../platform/atomic-write.js';

const FORMAT = 'edge-ota.boot-state.v1';

export class StateFileBackend implements BootloaderBackend {
  readonly kind = 'state-file';

  constructor(readonly path: string) {}

  async read(): Promise<BootState> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new BootStateError(`boot state file ${this.path} does not exist: provision it with write(initialBootState())`);
      }
      throw error;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (error) {
      throw new BootStateError(`boot state file ${this.path} is not JSON: ${(error as Error).message}`);
    }
    const { format, ...state } = (doc ?? {}) as { format?: unknown } & BootState;
    if (format !== FORMAT) throw new BootStateError(`boot state file ${this.path} has format ${JSON.stringify(format)}, expected "${FORMAT}"`);
    try {
      return cloneState(validateBootState(state));
    } catch (error) {
      throw new BootStateError(`boot state file ${this.path}: ${(error as Error).message}`);
    }
  }

  async write(state: BootState): Promise<void> {
    validateBootState(state);
    await writeFileAtomic(this.path, `${JSON.stringify({ format: FORMAT, ...cloneState(state) }, null, 2)}\n`, { mode: 0o600 });
  }
}
