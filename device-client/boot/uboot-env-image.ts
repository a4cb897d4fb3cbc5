// Provisioning a U-Boot environment on plain files (tests, image builds): `mkenvimage` makes the
// binary image, `fw_env.config` tells fw_printenv/fw_setenv where it is.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initialBootState, type BootState } from './boot-state.js';
import { bootStateToVariables, type BootVariables } from './boot-variables.js';
import { runBootTool } from './run-tool.js';

/** U-Boot's common CONFIG_ENV_SIZE; must match the bootloader's build on a real device. */
export const DEFAULT_UBOOT_ENV_SIZE = 0x4000;

export interface EnvCopy {
  path: string;
  offset?: number;
  size: number;
}

/** `mkenvimage -s SIZE [-r] -o PATH vars.txt`; `redundant` adds the flag byte of the two-copy layout. */
export async function createUbootEnvImage(options: { path: string; vars: BootVariables; size?: number; redundant?: boolean }): Promise<void> {
  const size = options.size ?? DEFAULT_UBOOT_ENV_SIZE;
  const dir = await mkdtemp(join(tmpdir(), 'ota-mkenvimage-'));
  try {
    const varsPath = join(dir, 'vars.txt');
    await writeFile(varsPath, Object.entries(options.vars).map(([name, value]) => `${name}=${value}\n`).join(''));
    await runBootTool('mkenvimage', ['-s', hex(size), ...(options.redundant ? ['-r'] : []), '-o', options.path, varsPath]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function fwEnvConfigText(copies: EnvCopy[]): string {
  if (copies.length < 1 || copies.length > 2) throw new Error(`fw_env.config takes one or two environment copies (got ${copies.length})`);
  return copies.map((c) => `${c.path} ${hex(c.offset ?? 0)} ${hex(c.size)}\n`).join('');
}

/**
 * A ready-to-use environment in `dir`: `uboot.env` (single copy) or `uboot.env.1` + `uboot.env.2`
 * (redundant pair, survives a cut mid-write), holding `state`, and the `fw_env.config` naming them.
 */
export async function provisionUbootEnv(options: { dir: string; redundant: boolean; state?: BootState; size?: number }): Promise<{ configPath: string; copies: EnvCopy[] }> {
  const size = options.size ?? DEFAULT_UBOOT_ENV_SIZE;
  const names = options.redundant ? ['uboot.env.1', 'uboot.env.2'] : ['uboot.env'];
  const copies = names.map((name) => ({ path: join(options.dir, name), offset: 0, size }));
  const vars = bootStateToVariables(options.state ?? initialBootState());
  for (const copy of copies) await createUbootEnvImage({ path: copy.path, vars, size, redundant: options.redundant });
  const configPath = join(options.dir, 'fw_env.config');
  await writeFile(configPath, fwEnvConfigText(copies));
  return { configPath, copies };
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}
