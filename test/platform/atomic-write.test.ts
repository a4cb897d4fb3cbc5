import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishExclusive, writeAtomically, writeFileAtomic, writeTempFile } from '../../platform/atomic-write.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ota-atomic-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('atomic writes', () => {
  it('replaces a file whole, mode 0644, leaving no temp file', async () => {
    const path = join(dir, 'state.json');
    await writeFile(path, 'old');
    await writeFileAtomic(path, 'new');
    expect(await readFile(path, 'utf8')).toBe('new');
    expect((await stat(path)).mode & 0o777).toBe(0o644);
    expect(await readdir(dir)).toEqual(['state.json']);
  });

  it('removes the temp file when the source fails midway, and publishes exclusively', async () => {
    async function* failing() {
      yield new Uint8Array([1, 2, 3]);
      throw new Error('source broke');
    }
    const sub = join(dir, 'made', 'here');
    await expect(writeTempFile(sub, 'blob', failing(), { createDir: true })).rejects.toThrow(/source broke/);
    expect(await readdir(sub)).toEqual([]);
    const first = await writeTempFile(sub, 'blob', 'one');
    expect(await publishExclusive(first, join(sub, 'blob'))).toBe('created');
    const second = await writeTempFile(sub, 'blob', 'two');
    expect(await publishExclusive(second, join(sub, 'blob'))).toBe('exists');
    expect(await readFile(join(sub, 'blob'), 'utf8')).toBe('one');
    expect(await readdir(sub)).toEqual(['blob']);
  });

  it('keeps what a producer wrote only when it says so', async () => {
    const outDir = await mkdtemp(join(dir, 'out-'));
    const out = join(outDir, 'x.bin');
    expect(await writeAtomically(out, async (temp) => (await writeFile(temp, 'kept'), { keep: true, value: 1 }))).toBe(1);
    expect(await readFile(out, 'utf8')).toBe('kept');
    await writeAtomically(out, async (temp) => (await writeFile(temp, 'dropped'), { keep: false, value: 0 }));
    await expect(writeAtomically(out, async (temp) => (await writeFile(temp, 'half'), Promise.reject(new Error('abort'))))).rejects.toThrow(/abort/);
    expect(await readFile(out, 'utf8')).toBe('kept');
    expect(await readdir(outDir)).toEqual(['x.bin']);
  });
});
