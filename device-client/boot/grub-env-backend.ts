// Boot state in a GRUB environment block (grubenv) through `grub-editenv`. All variables go in one
// `grub-editenv FILE set A=1 B=2` call. grub-editenv rewrites the file in place (open O_TRUNC,
// write, fsync), so a cut can leave it empty; we run it on a copy and rename the copy over the
// original, which makes the write atomic. GRUB itself re-reads the file by path at each boot.
import { access, copyFile, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { BootloaderBackend } from './backend.js';
import { BootStateError, initialBootState, type BootState } from './boot-state.js';
import { bootStateToVariables, parseVariableListing, variablesToBootState } from './boot-variables.js';
import { fsyncDirectory } from '../../platform/atomic-write.js';
import { runBootTool } from './run-tool.js';

export class GrubEnvBackend implements BootloaderBackend {
  readonly kind = 'grub';

  constructor(readonly envPath: string) {}

  async read(): Promise<BootState> {
    // `grub-editenv FILE list` silently creates a missing FILE; say it is missing instead.
    await access(this.envPath).catch(() => {
      throw new BootStateError(`GRUB environment ${this.envPath} does not exist: provision it with provisionGrubEnv()`);
    });
    const listing = await runBootTool('grub-editenv', [this.envPath, 'list']);
    return variablesToBootState(parseVariableListing(listing), `GRUB environment (${this.envPath})`);
  }

  async write(state: BootState): Promise<void> {
    const assignments = Object.entries(bootStateToVariables(state)).map(([name, value]) => `${name}=${value}`);
    const temp = join(dirname(this.envPath), `.${basename(this.envPath)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
    try {
      await copyFile(this.envPath, temp); // keeps any other variables (e.g. saved_entry) in the block
      await runBootTool('grub-editenv', [temp, 'set', ...assignments]);
      const handle = await open(temp, 'r');
      await handle.sync().finally(() => handle.close());
      await rename(temp, this.envPath);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    await fsyncDirectory(dirname(this.envPath));
  }
}

/** `grub-editenv FILE create` (a fresh 1024-byte block) then the boot variables for `state`. */
export async function provisionGrubEnv(envPath: string, state: BootState = initialBootState()): Promise<GrubEnvBackend> {
  await runBootTool('grub-editenv', [envPath, 'create']);
  const backend = new GrubEnvBackend(envPath);
  await backend.write(state);
  return backend;
}
