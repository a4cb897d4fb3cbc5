// The ops generator on filesystem images (issue 17): a tar archive and an ext4 image (`mke2fs -d`)
// of two release trees whose largest member (an 8 MiB firmware blob made of real ELF binaries,
// "rebuilt" between releases) is windowed into many source/target extents that the workers diff
// independently; each patch rebuilds the target byte for byte with both appliers (TypeScript and
// the device's ota-apply-ops). And on ext4 images of a real release (esbuild 0.28.1 → 0.28.2, from
// the npm registry, cached) the patch is no larger than whole-image bsdiff (ota-bsdiff, whose bytes
// are Debian bsdiff's). The synthetic blob is no yardstick for size: its "rebuilt" binaries change a
// word every 16-256 bytes, denser than any relinking. Real tools, no mocks; mke2fs is e2fsprogs.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImagePair } from '../../support/image-pairs.mjs';
import { binary } from '../../support/npm-release.mjs';
import { projectRoot } from '../../../platform/paths.js';
import { applyOpsDelta, applyOpsDeltaNative, findNativeApplier, generateOpsDelta } from '../../../deltas/ops/index.js';
import { findTool } from '../../../platform/tools.js';
import { opLayout } from '../../support/ops-patch.js';

const MiB = 1024 * 1024;
const MEMBER = 'usr/lib/firmware/blob.bin';
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

let dir: string;
type Kind = 'tar' | 'ext4' | 'esbuild.ext4';
const image = (release: 'old' | 'new', kind: Kind) => join(dir, `${release}.${kind}`);
const EPOCH = '1767225600';
const UUID = '6f74612d-7465-7374-2d66-732d70616972';

function packTar(tree: string, out: string): void {
  execFileSync('tar', ['--sort=name', '--format=gnu', '--owner=0', '--group=0', '--numeric-owner', `--mtime=@${EPOCH}`, '-cf', out, '-C', tree, '.']);
}

function packExt4(tree: string, out: string, size: string): void {
  writeFileSync(out, '');
  const env = { ...process.env, E2FSPROGS_FAKE_TIME: EPOCH };
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '4096', '-U', UUID, '-E', `hash_seed=${UUID},root_owner=0:0`, '-d', tree, out, size], { env, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A release tree: the large member, and a few small files that change or stay. */
function writeTree(root: string, blob: Buffer, release: 'old' | 'new'): void {
  mkdirSync(join(root, 'usr/lib/firmware'), { recursive: true });
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, MEMBER), blob);
  writeFileSync(join(root, 'etc/os-release'), `NAME=fs-pair\nVERSION_ID=${release === 'old' ? '1.0.0' : '1.0.1'}\n`);
  writeFileSync(join(root, 'etc/motd'), 'unchanged between releases\n'.repeat(200));
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ota-ops-fs-'));
  // The member's two versions: ~8 MiB of real ELF binaries, relinked-like changes throughout.
  buildImagePair({ oldPath: join(dir, 'blob.old'), newPath: join(dir, 'blob.new'), targetBytes: 8 * MiB, seed: 17, rebuiltFraction: 0.5 });
  for (const release of ['old', 'new'] as const) {
    const tree = join(dir, `tree-${release}`);
    writeTree(tree, readFileSync(join(dir, `blob.${release}`)), release);
    packTar(tree, image(release, 'tar'));
    packExt4(tree, image(release, 'ext4'), '16M');
    // A real patch release of an 11 MB executable (the bench's first pair member).
    const real = join(dir, `esbuild-${release}`);
    const version = release === 'old' ? '0.28.1' : '0.28.2';
    writeTree(real, binary(join(projectRoot, '.ota', 'bench', 'npm-packs'), '@esbuild/linux-x64', version, 'package/bin/esbuild'), release);
    packExt4(real, image(release, 'esbuild.ext4'), '24M');
  }
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Whole-image bsdiff's patch bytes for the pair (ota-bsdiff; byte-identical to Debian's bsdiff). */
function wholeImageBsdiffBytes(kind: Kind): number {
  const tool = findTool('ota-bsdiff');
  if (!tool) throw new Error('ota-bsdiff is not built: apt-get install -y libbz2-dev, then node tools/setup.mjs (.ci/run does)');
  const patch = join(dir, `whole.${kind}.bsdiff`);
  execFileSync(tool, [image('old', kind), image('new', kind), patch], { stdio: 'ignore' });
  return statSync(patch).size;
}

describe.each(['tar', 'ext4'] as const)('ops delta of a %s image pair with one large member', (kind) => {
  it('windows the large member into extents that rebuild the target with both appliers', async () => {
    const patch = join(dir, `${kind}.ops`);
    // 1 MiB ops: the 8 MiB member becomes several extents, each diffed by whichever worker is free.
    const g = await generateOpsDelta({ sourcePath: image('old', kind), targetPath: image('new', kind), outPath: patch, workers: 2, maxOpBytes: MiB });
    expect(g.tarAligned).toBe(kind === 'tar');
    const bsdiffOps = opLayout(readFileSync(patch)).filter((l) => l.op.kind === 'bsdiff');
    expect(bsdiffOps.length).toBeGreaterThanOrEqual(6);
    expect(bsdiffOps.every((l) => l.op.targetLength <= MiB && l.op.sourceLength <= 2 * MiB)).toBe(true);

    const want = sha256(image('new', kind));
    const viaTs = join(dir, `${kind}.ts.out`);
    await applyOpsDelta({ sourcePath: image('old', kind), patchPath: patch, outPath: viaTs });
    expect(sha256(viaTs)).toBe(want);
    if (!findNativeApplier()) throw new Error('ota-apply-ops not found: run `node tools/setup.mjs --for test` (needs Go)');
    const viaGo = join(dir, `${kind}.go.out`);
    await applyOpsDeltaNative({ sourcePath: image('old', kind), patchPath: patch, outPath: viaGo });
    expect(sha256(viaGo)).toBe(want);
  }, 300_000);
});

describe('ops delta of ext4 images of a real release (esbuild 0.28.1 → 0.28.2)', () => {
  it('is no larger than whole-image bsdiff, and the device applier rebuilds the target', async () => {
    const patch = join(dir, 'esbuild.ops');
    const g = await generateOpsDelta({ sourcePath: image('old', 'esbuild.ext4'), targetPath: image('new', 'esbuild.ext4'), outPath: patch });
    const whole = wholeImageBsdiffBytes('esbuild.ext4');
    expect(g.ops.bsdiff.count).toBeGreaterThanOrEqual(3);
    expect(g.length).toBeLessThanOrEqual(whole);
    const out = join(dir, 'esbuild.out');
    await applyOpsDeltaNative({ sourcePath: image('old', 'esbuild.ext4'), patchPath: patch, outPath: out, sourceCheck: 'extent' });
    expect(sha256(out)).toBe(sha256(image('new', 'esbuild.ext4')));
  }, 300_000);
});
