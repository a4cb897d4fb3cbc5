import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bootedSlotFromCmdline, readBootedSlot } from '../../../device-client/boot/booted-slot.js';

describe('booted slot from the kernel command line', () => {
  it('reads ota.slot=, else rauc.slot=', () => {
    expect(bootedSlotFromCmdline('console=ttyS0 root=/dev/mmcblk0p3 ota.slot=B rootwait\n')).toBe('B');
    expect(bootedSlotFromCmdline('root=/dev/sda2 rauc.slot=A quiet')).toBe('A');
    expect(bootedSlotFromCmdline('rauc.slot=A ota.slot=B')).toBe('B');
    expect(bootedSlotFromCmdline('ota.slot=A ota.slot=B')).toBe('B');
  });

  it('fails loudly on a missing or odd slot', () => {
    expect(() => bootedSlotFromCmdline('root=/dev/sda2 quiet')).toThrow(/names no slot/);
    expect(() => bootedSlotFromCmdline('ota.slot=C')).toThrow(/ota.slot=C; expected A or B/);
  });

  it('reads a cmdline file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ota-cmdline-'));
    try {
      await writeFile(join(dir, 'cmdline'), 'BOOT_IMAGE=/vmlinuz ota.slot=A\n');
      expect(await readBootedSlot(join(dir, 'cmdline'))).toBe('A');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
