// Filesystem-image pairs of the same two releases as bench/release-pair.mjs: each release's
// executables laid out as a root filesystem tree (usr/bin, usr/lib), then packed as a tar archive
// and as an ext4 image (`mke2fs -d`, what a device's A/B slot holds). Deterministic: fixed UUID,
// hash seed, timestamps (E2FSPROGS_FAKE_TIME) and tar metadata, so a cached pair is the same pair.
// Cached beside the raw pair under .ota/bench/<pair dir>/fs/.
// @ts-check
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { log, mb, status } from './format.mjs';
import { MiB, root, sha256File } from './project.mjs';
import { binary, RELEASES } from './release-pair.mjs';

/** Where each release's executable sits in the tree. */
const PLACES = ['usr/bin/esbuild', 'usr/lib/swc/swc.linux-x64-gnu.node', 'usr/bin/turbo', 'usr/lib/rspack/rspack.linux-x64-gnu.node'];
const EPOCH = 1767225600; // 2026-01-01, every file's mtime and the filesystem's clock
const EXT4_UUID = '6f74612d-6265-6e63-682d-657874342d31';

function writeTree(dir, which) {
  rmSync(dir, { recursive: true, force: true });
  RELEASES.forEach((r, i) => {
    const path = join(dir, PLACES[i]);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, binary(join(root, '.ota', 'bench', 'npm-packs'), r.pkg, r[which], r.member), { mode: 0o755 });
  });
  const version = RELEASES.map((r) => `${r.pkg}=${r[which]}`).join('\n');
  mkdirSync(join(dir, 'etc'), { recursive: true });
  writeFileSync(join(dir, 'etc', 'os-release'), `NAME=edge-ota-bench\nVERSION_ID=${which}\n${version}\n`);
  for (const p of ['etc/os-release', ...PLACES, 'etc', 'usr/bin', 'usr/lib/swc', 'usr/lib/rspack', 'usr/lib', 'usr', '.']) utimesSync(join(dir, p), EPOCH, EPOCH);
}

/** ext4 image size: the larger tree plus room for metadata and free space, whole MiB. */
function ext4Bytes(treeBytes) {
  return Math.ceil((treeBytes * 1.25 + 16 * MiB) / MiB) * MiB;
}

function treeBytes(dir) {
  return PLACES.reduce((sum, p) => sum + statSync(join(dir, p)).size, 0);
}

function packTar(dir, out) {
  execFileSync('tar', ['--sort=name', '--format=gnu', '--owner=0', '--group=0', '--numeric-owner', `--mtime=@${EPOCH}`, '-cf', out, '-C', dir, '.']);
}

function packExt4(dir, out, bytes) {
  writeFileSync(out, '');
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '4096', '-U', EXT4_UUID, '-E', `hash_seed=${EXT4_UUID},root_owner=0:0`, '-L', 'rootfs', '-d', dir, out, `${bytes / 1024}k`], {
    env: { ...process.env, E2FSPROGS_FAKE_TIME: String(EPOCH) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

/** mke2fs is e2fsprogs; without it the ext4 pair is skipped (the tar pair still runs). */
export function haveMke2fs() {
  try {
    execFileSync('mke2fs', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * The tar and ext4 pairs built from the raw pair's releases, cached in pairDir/fs.
 * @param {string} pairDir
 * @returns {Promise<Array<{ kind: 'tar' | 'ext4', oldPath: string, newPath: string, oldBytes: number, newBytes: number, oldSha256: string, newSha256: string }>>}
 */
export async function fsPairs(pairDir) {
  const dir = join(pairDir, 'fs');
  const metaPath = join(dir, 'meta.json');
  const kinds = haveMke2fs() ? ['tar', 'ext4'] : ['tar'];
  if (!kinds.includes('ext4')) log('WARNING: mke2fs not found (apt-get install -y e2fsprogs): the ext4 pair is skipped');
  const cached = existsSync(metaPath) ? JSON.parse(readFileSync(metaPath, 'utf8')) : undefined;
  if (cached && kinds.every((k) => cached.some((p) => p.kind === k && ['old', 'new'].every((w) => existsSync(join(dir, `${w}.${k}`)))))) {
    return cached.filter((p) => kinds.includes(p.kind)).map((p) => ({ ...p, oldPath: join(dir, `old.${p.kind}`), newPath: join(dir, `new.${p.kind}`) }));
  }
  const temp = `${dir}.partial-${process.pid}`;
  rmSync(temp, { recursive: true, force: true });
  mkdirSync(temp, { recursive: true });
  status('filesystem pairs: writing the release trees...', true);
  for (const which of ['from', 'to']) writeTree(join(temp, `tree-${which}`), which);
  const fsBytes = ext4Bytes(Math.max(treeBytes(join(temp, 'tree-from')), treeBytes(join(temp, 'tree-to'))));
  const pairs = [];
  for (const kind of kinds) {
    status(`filesystem pairs: packing the ${kind} images...`, true);
    for (const [which, name] of [['from', 'old'], ['to', 'new']]) {
      const out = join(temp, `${name}.${kind}`);
      if (kind === 'tar') packTar(join(temp, `tree-${which}`), out);
      else packExt4(join(temp, `tree-${which}`), out, fsBytes);
    }
    const files = { oldPath: join(temp, `old.${kind}`), newPath: join(temp, `new.${kind}`) };
    pairs.push({ kind, oldBytes: statSync(files.oldPath).size, newBytes: statSync(files.newPath).size, oldSha256: await sha256File(files.oldPath), newSha256: await sha256File(files.newPath) });
  }
  for (const which of ['from', 'to']) rmSync(join(temp, `tree-${which}`), { recursive: true, force: true });
  writeFileSync(join(temp, 'meta.json'), `${JSON.stringify(pairs, null, 2)}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(temp, dir);
  log(`filesystem pairs: ${pairs.map((p) => `${p.kind} ${mb(p.oldBytes)} → ${mb(p.newBytes)} MB`).join(', ')}`);
  return pairs.map((p) => ({ ...p, oldPath: join(dir, `old.${p.kind}`), newPath: join(dir, `new.${p.kind}`) }));
}
