// One scenario, every backend: the state machine is the same, only the storage differs.
// U-Boot and GRUB run against the real Debian tools (libubootenv-tool, u-boot-tools, grub-common).
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, open, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { updateBootState, type BootloaderBackend } from '../../../device-client/boot/backend.js';
import {
  BootStateError,
  initialBootState,
  markActive,
  markBad,
  markGood,
  simulateBoot,
  type BootState,
  type SlotName,
} from '../../../device-client/boot/boot-state.js';
import { GrubEnvBackend, provisionGrubEnv } from '../../../device-client/boot/grub-env-backend.js';
import { StateFileBackend } from '../../../device-client/boot/state-file-backend.js';
import { UbootEnvBackend } from '../../../device-client/boot/uboot-env-backend.js';
import { createUbootEnvImage, provisionUbootEnv } from '../../../device-client/boot/uboot-env-image.js';

function hasTool(name: string): boolean {
  const found = spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
  if (!found) console.warn(`SKIPPING ${name} tests: ${name} is not installed (apt-get install -y u-boot-tools libubootenv-tool grub-common)`);
  return found;
}
const haveUboot = hasTool('fw_setenv') && hasTool('fw_printenv') && hasTool('mkenvimage');
const haveGrub = hasTool('grub-editenv');

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ota-boot-backends-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let counter = 0;
async function freshDir(): Promise<string> {
  const dir = join(root, `case-${++counter}`);
  await mkdir(dir);
  return dir;
}

type Factory = { name: string; available: boolean; make: (state: BootState) => Promise<BootloaderBackend> };
const factories: Factory[] = [
  {
    name: 'state-file',
    available: true,
    make: async (state) => {
      const backend = new StateFileBackend(join(await freshDir(), 'boot-state.json'));
      await backend.write(state);
      return backend;
    },
  },
  {
    name: 'u-boot (single copy)',
    available: haveUboot,
    make: async (state) => new UbootEnvBackend((await provisionUbootEnv({ dir: await freshDir(), redundant: false, state })).configPath),
  },
  {
    name: 'u-boot (redundant pair)',
    available: haveUboot,
    make: async (state) => new UbootEnvBackend((await provisionUbootEnv({ dir: await freshDir(), redundant: true, state })).configPath),
  },
  {
    name: 'grub',
    available: haveGrub,
    make: async (state) => provisionGrubEnv(join(await freshDir(), 'grubenv'), state),
  },
];

/** A power-on as the bootloader does it: read the env, pick a slot, store the spent try. */
async function boot(backend: BootloaderBackend): Promise<{ slot: SlotName | null; tries: BootState['tries'] }> {
  const outcome = simulateBoot(await backend.read());
  await backend.write(outcome.state);
  const stored = await backend.read();
  return { slot: outcome.slot, tries: stored.tries };
}

for (const factory of factories) {
  describe.skipIf(!factory.available)(`boot backend contract: ${factory.name}`, () => {
    it('install to B with 3 tries, B boots 3 times, then falls back to A', async () => {
      const backend = await factory.make(initialBootState());
      expect(await backend.read()).toEqual(initialBootState());
      await updateBootState(backend, (s) => markActive(s, 'B', 3));
      expect(await boot(backend)).toEqual({ slot: 'B', tries: { A: 3, B: 2 } });
      expect(await boot(backend)).toEqual({ slot: 'B', tries: { A: 3, B: 1 } });
      expect(await boot(backend)).toEqual({ slot: 'B', tries: { A: 3, B: 0 } });
      expect(await boot(backend)).toEqual({ slot: 'A', tries: { A: 3, B: 0 } });
      expect(await boot(backend)).toEqual({ slot: 'A', tries: { A: 3, B: 0 } });
    });

    it('install, boot, markGood: later boots stay on B', async () => {
      const backend = await factory.make(initialBootState());
      await updateBootState(backend, (s) => markActive(s, 'B', 3));
      expect((await boot(backend)).slot).toBe('B');
      await updateBootState(backend, (s) => markGood(s, 'B'));
      for (let i = 0; i < 6; i++) expect((await boot(backend)).slot).toBe('B');
      expect((await backend.read()).good).toEqual({ A: true, B: true });
    });

    it('markBad on the trial slot: the next boot is the other slot', async () => {
      const backend = await factory.make(initialBootState());
      await updateBootState(backend, (s) => markActive(s, 'B', 3));
      expect((await boot(backend)).slot).toBe('B');
      await updateBootState(backend, (s) => markBad(s, 'B'));
      expect((await boot(backend)).slot).toBe('A');
      expect(await backend.read()).toEqual({ order: ['A', 'B'], tries: { A: 3, B: 0 }, good: { A: true, B: false } });
    });

    it('stores every valid state exactly', async () => {
      const backend = await factory.make(initialBootState());
      const states: BootState[] = [
        { order: ['B', 'A'], tries: { A: 0, B: 9 }, good: { A: true, B: false } },
        { order: ['A', 'B'], tries: { A: 1, B: 2 }, good: { A: false, B: true } },
        { order: ['B', 'A'], tries: { A: 3, B: 3 }, good: { A: true, B: true } },
      ];
      for (const state of states) {
        await backend.write(state);
        expect(await backend.read()).toEqual(state);
      }
    });

    it('refuses to store an invalid state and keeps the old one', async () => {
      const backend = await factory.make(initialBootState());
      const broken = { order: ['A', 'A'], tries: { A: 1, B: 1 }, good: { A: true, B: false } } as unknown as BootState;
      await expect(backend.write(broken)).rejects.toThrow(BootStateError);
      expect(await backend.read()).toEqual(initialBootState());
    });
  });
}

describe('state-file backend specifics', () => {
  it('says when the file is missing or not a boot state', async () => {
    const dir = await freshDir();
    const backend = new StateFileBackend(join(dir, 'boot-state.json'));
    await expect(backend.read()).rejects.toThrow(/does not exist/);
    await writeFile(backend.path, '{"format":"edge-ota.boot-state.v1","order":["A"');
    await expect(backend.read()).rejects.toThrow(/is not JSON/);
    await writeFile(backend.path, JSON.stringify({ format: 'edge-ota.boot-state.v1', order: ['A', 'B'], tries: { A: 'x', B: 0 }, good: { A: true, B: false } }));
    await expect(backend.read()).rejects.toThrow(/tries for slot A/);
  });
});

describe.skipIf(!haveUboot)('u-boot backend specifics (real fw_printenv/fw_setenv)', () => {
  const printenv = (config: string) => spawnSync('fw_printenv', ['-c', config], { encoding: 'utf8' });

  it('writes RAUC-style variables that fw_printenv shows, keeping unrelated ones', async () => {
    const dir = await freshDir();
    const env = join(dir, 'uboot.env');
    await createUbootEnvImage({ path: env, vars: { bootcmd: 'run ota_boot', BOOT_ORDER: 'A B', BOOT_A_LEFT: '3', BOOT_B_LEFT: '0', BOOT_A_GOOD: '1', BOOT_B_GOOD: '0' } });
    await writeFile(join(dir, 'fw_env.config'), `${env} 0x0 0x4000\n`);
    const backend = new UbootEnvBackend(join(dir, 'fw_env.config'));
    await backend.write(markActive(await backend.read(), 'B', 2));
    const out = printenv(backend.configPath).stdout;
    expect(out).toContain('BOOT_ORDER=B A\n');
    expect(out).toContain('BOOT_B_LEFT=2\n');
    expect(out).toContain('BOOT_B_GOOD=0\n');
    expect(out).toContain('bootcmd=run ota_boot\n');
  });

  it('redundant pair: a corrupted newest copy falls back to the previous state', async () => {
    const dir = await freshDir();
    const { configPath, copies } = await provisionUbootEnv({ dir, redundant: true });
    const backend = new UbootEnvBackend(configPath);
    const previous = markActive(initialBootState(), 'B', 3);
    await backend.write(previous);
    const next = simulateBoot(previous).state;
    await backend.write(next);
    expect(await backend.read()).toEqual(next);

    // Find the copy holding the newest write and scribble over its variables, as a cut mid-write would.
    const newest = await copyHolding(copies.map((c) => c.path), 'BOOT_B_LEFT=2');
    await scribble(newest, 16, 64);
    expect(await backend.read()).toEqual(previous);
    // The next write goes over the broken copy and everything is consistent again.
    await backend.write(next);
    expect(await backend.read()).toEqual(next);
  });

  it('single copy: a corrupted env is an error, not a guessed state', async () => {
    const dir = await freshDir();
    const { configPath, copies } = await provisionUbootEnv({ dir, redundant: false });
    await scribble(copies[0]!.path, 8, 32);
    await expect(new UbootEnvBackend(configPath).read()).rejects.toThrow(/fw_printenv .* failed/);
  });

  it('an environment cut short (truncated file) is reported, not read', async () => {
    const dir = await freshDir();
    const { configPath, copies } = await provisionUbootEnv({ dir, redundant: true });
    await truncate(copies[0]!.path, 100);
    await expect(new UbootEnvBackend(configPath).read()).rejects.toThrow(/fw_printenv/);
  });

  it('names a missing boot variable', async () => {
    const dir = await freshDir();
    const env = join(dir, 'uboot.env');
    await createUbootEnvImage({ path: env, vars: { BOOT_ORDER: 'A B', BOOT_A_LEFT: '3', BOOT_B_LEFT: '0' } });
    await writeFile(join(dir, 'fw_env.config'), `${env} 0x0 0x4000\n`);
    await expect(new UbootEnvBackend(join(dir, 'fw_env.config')).read()).rejects.toThrow(/missing boot variable\(s\) BOOT_A_GOOD, BOOT_B_GOOD/);
  });
});

describe.skipIf(!haveGrub)('grub backend specifics (real grub-editenv)', () => {
  it('writes the variables grub-editenv lists, keeps others, and keeps the 1024-byte block', async () => {
    const env = join(await freshDir(), 'grubenv');
    spawnSync('grub-editenv', [env, 'create']);
    spawnSync('grub-editenv', [env, 'set', 'saved_entry=rescue']);
    const backend = new GrubEnvBackend(env);
    await backend.write(markActive(initialBootState(), 'B', 4));
    const listing = spawnSync('grub-editenv', [env, 'list'], { encoding: 'utf8' }).stdout;
    expect(listing.split('\n').filter(Boolean).sort()).toEqual(
      ['saved_entry=rescue', 'BOOT_ORDER=B A', 'BOOT_A_LEFT=3', 'BOOT_B_LEFT=4', 'BOOT_A_GOOD=1', 'BOOT_B_GOOD=0'].sort(),
    );
    expect((await stat(env)).size).toBe(1024);
    expect(await readFile(env, 'utf8')).toMatch(/^# GRUB Environment Block\n/);
  });

  it('says when the env file is missing instead of letting grub-editenv create it', async () => {
    const env = join(await freshDir(), 'grubenv');
    await expect(new GrubEnvBackend(env).read()).rejects.toThrow(/does not exist/);
    await expect(stat(env)).rejects.toThrow(/ENOENT/);
  });
});

async function copyHolding(paths: string[], needle: string): Promise<string> {
  for (const path of paths) if ((await readFile(path)).includes(needle)) return path;
  throw new Error(`no env copy holds ${needle}`);
}

async function scribble(path: string, offset: number, length: number): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.write(Buffer.alloc(length, 0x5a), 0, length, offset);
  } finally {
    await handle.close();
  }
}
