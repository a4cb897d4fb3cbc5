// Boot state in a U-Boot environment, through libubootenv's fw_printenv / fw_setenv and an
// fw_env.config. All variables go in one `fw_setenv -s SCRIPT` call, i.e. one environment write;
// with the redundant layout (two copies, a flag byte saying which is newer) that write is atomic
// against power cuts: the copy being written is not the one the bootloader trusts until complete.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BootloaderBackend } from './backend.js';
import type { BootState } from './boot-state.js';
import { bootStateToVariables, parseVariableListing, variablesToBootState } from './boot-variables.js';
import { runBootTool } from './run-tool.js';

export class UbootEnvBackend implements BootloaderBackend {
  readonly kind = 'u-boot';

  /** `configPath`: an fw_env.config (one line per copy: `<file> <offset> <size>`). */
  constructor(readonly configPath: string) {}

  async read(): Promise<BootState> {
    const listing = await runBootTool('fw_printenv', ['-c', this.configPath]);
    return variablesToBootState(parseVariableListing(listing), `U-Boot environment (${this.configPath})`);
  }

  async write(state: BootState): Promise<void> {
    // This libubootenv reads script lines as NAME=value (a bare "NAME=" would delete the variable).
    const script = Object.entries(bootStateToVariables(state)).map(([name, value]) => `${name}=${value}\n`).join('');
    const dir = await mkdtemp(join(tmpdir(), 'ota-fw-setenv-'));
    try {
      const scriptPath = join(dir, 'boot-state.script');
      await writeFile(scriptPath, script);
      await runBootTool('fw_setenv', ['-c', this.configPath, '-s', scriptPath]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
