// The grub.cfg snippet in docs/device-boot.md is what devices copy: GRUB's own parser must accept it.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const haveCheck = spawnSync('sh', ['-c', 'command -v grub-script-check']).status === 0;
if (!haveCheck) console.warn('SKIPPING grub.cfg syntax check: grub-script-check not installed (apt-get install -y grub-common)');

describe.skipIf(!haveCheck)('docs/device-boot.md grub.cfg snippet', () => {
  it('passes grub-script-check and uses the variables the backends write', async () => {
    const doc = await readFile(new URL('../../../docs/device-boot.md', import.meta.url), 'utf8');
    const snippet = /## GRUB snippet[\s\S]*?```sh\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(snippet, 'grub.cfg block not found in docs/device-boot.md').toBeTruthy();
    for (const name of ['BOOT_ORDER', 'BOOT_A_LEFT', 'BOOT_B_LEFT', 'BOOT_A_GOOD', 'BOOT_B_GOOD', 'ota.slot=A', 'ota.slot=B']) {
      expect(snippet).toContain(name);
    }
    const dir = await mkdtemp(join(tmpdir(), 'ota-grubcfg-'));
    try {
      const cfg = join(dir, 'grub.cfg');
      await writeFile(cfg, snippet!);
      const ok = spawnSync('grub-script-check', [cfg], { encoding: 'utf8' });
      expect(ok.status, ok.stderr).toBe(0);
      // The checker does reject broken input, so a pass means something.
      await writeFile(cfg, `${snippet}\nif [ x = y ]; then\n`);
      expect(spawnSync('grub-script-check', [cfg]).status).not.toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
