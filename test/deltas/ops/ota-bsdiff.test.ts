// ota-bsdiff (native/ota-bsdiff), the generator's bsdiff: BSDIFF40 byte-identical to Debian's bsdiff
// and bsdiff-node (same matching, same libbz2), read by Debian's bspatch, extents read in place.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImagePair } from '../../support/image-pairs.mjs';
import { generateOpsDelta } from '../../../deltas/ops/index.js';
import { anchorCopies } from '../../../deltas/ops/plan.js';
import { findTool } from '../../../platform/tools.js';

// Built by the setup script when libbz2-dev is installed (.ci/run installs it, so CI never skips).
const tool = findTool('ota-bsdiff') ?? '';
if (!tool) console.warn('SKIPPED test/ota-bsdiff.test.ts: ota-bsdiff is not built; apt-get install -y libbz2-dev, then node tools/setup.mjs');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ota-bsdiff-'));
  buildImagePair({ oldPath: join(dir, 'old.img'), newPath: join(dir, 'new.img'), targetBytes: 3 * 1024 * 1024, seed: 21 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Debian's bsdiff/bspatch (package bsdiff; .ci/run installs it). */
function debian(command: 'bsdiff' | 'bspatch', ...args: string[]): void {
  const run = spawnSync(command, args, { encoding: 'utf8' });
  if (run.error) throw new Error(`${command} is not installed: apt-get install -y bsdiff (.ci/run does)`);
  expect(run.status, run.stderr).toBe(0);
}

function otaBsdiff(...args: string[]): { patchBytes: number; peakRssBytes: number } {
  return JSON.parse(execFileSync(tool, args, { encoding: 'utf8' }));
}

describe.skipIf(!tool)('ota-bsdiff', () => {
  it("writes the same BSDIFF40 bytes as Debian's bsdiff, and bspatch rebuilds the target", () => {
    const [oldPath, newPath] = [join(dir, 'old.img'), join(dir, 'new.img')];
    const report = otaBsdiff(oldPath, newPath, join(dir, 'native.patch'));
    debian('bsdiff', oldPath, newPath, join(dir, 'debian.patch'));
    const native = readFileSync(join(dir, 'native.patch'));
    expect(native.subarray(0, 8).toString('latin1')).toBe('BSDIFF40');
    expect(report.patchBytes).toBe(native.length);
    expect(report.peakRssBytes).toBeGreaterThan(0);
    expect(native.equals(readFileSync(join(dir, 'debian.patch')))).toBe(true);
    debian('bspatch', oldPath, join(dir, 'rebuilt.img'), join(dir, 'native.patch'));
    expect(readFileSync(join(dir, 'rebuilt.img')).equals(readFileSync(newPath))).toBe(true);
  });

  it('diffs extents of larger files in place, and handles empty inputs', () => {
    const [oldPath, newPath] = [join(dir, 'old.img'), join(dir, 'new.img')];
    const oldExtent = readFileSync(oldPath).subarray(100_000, 900_000);
    const newExtent = readFileSync(newPath).subarray(120_000, 700_000);
    writeFileSync(join(dir, 'old.part'), oldExtent);
    writeFileSync(join(dir, 'new.part'), newExtent);
    otaBsdiff('--old-range=100000:800000', '--new-range=120000:580000', oldPath, newPath, join(dir, 'extent.patch'));
    debian('bspatch', join(dir, 'old.part'), join(dir, 'extent.out'), join(dir, 'extent.patch'));
    expect(readFileSync(join(dir, 'extent.out')).equals(newExtent)).toBe(true);

    writeFileSync(join(dir, 'empty'), '');
    otaBsdiff(join(dir, 'empty'), join(dir, 'new.part'), join(dir, 'from-empty.patch'));
    debian('bspatch', join(dir, 'empty'), join(dir, 'from-empty.out'), join(dir, 'from-empty.patch'));
    expect(readFileSync(join(dir, 'from-empty.out')).equals(newExtent)).toBe(true);
  });

  it('says what is wrong with bad arguments and leaves no patch behind', () => {
    const usage = spawnSync(tool, ['only-one-file'], { encoding: 'utf8' });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/usage: ota-bsdiff/);
    const pastEnd = spawnSync(tool, ['--old-range=0:999999999', join(dir, 'old.img'), join(dir, 'new.img'), join(dir, 'bad.patch')], { encoding: 'utf8' });
    expect(pastEnd.status).toBe(1);
    expect(pastEnd.stderr).toMatch(/reading 999999999 bytes at 0/);
    expect(spawnSync('test', ['-e', join(dir, 'bad.patch')]).status).toBe(1);
  });

  it('gives generateOpsDelta the same patch as bsdiff-node does', async () => {
    const common = { sourcePath: join(dir, 'old.img'), targetPath: join(dir, 'new.img'), maxOpBytes: 512 * 1024, workers: 2 };
    const native = await generateOpsDelta({ ...common, outPath: join(dir, 'native.ops'), bsdiffEngine: 'native' });
    const node = await generateOpsDelta({ ...common, outPath: join(dir, 'node.ops'), bsdiffEngine: 'node' });
    expect(native.ops.bsdiff.count).toBeGreaterThan(0);
    expect(native.sha256).toBe(node.sha256);
  });
});

describe('anchorCopies', () => {
  it('keeps the heaviest chain in image order and drops a stray match elsewhere', () => {
    const copy = (t: number, s: number, len: number) => ({ kind: 'copy' as const, t, s, len });
    const stray = copy(5_000, 900_000, 4_000);
    const chain = anchorCopies([copy(0, 0, 4_096), stray, copy(20_000, 21_000, 50_000), copy(80_000, 82_000, 10_000)]);
    expect(chain).not.toContain(stray);
    expect(chain.map((c) => c.t)).toEqual([0, 20_000, 80_000]);
    // A big moved block outweighs the small ones it crosses.
    const moved = copy(10_000, 500_000, 400_000);
    expect(anchorCopies([copy(0, 0, 1_000), moved, copy(500_000, 2_000, 1_000)])).toEqual([copy(0, 0, 1_000), moved]);
  });
});
