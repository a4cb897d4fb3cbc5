// Builds a realistic sample firmware image: a tar root filesystem with real ELF executables
// copied from this machine, a dpkg status database and an os-release file. Version N+1 changes
// a few files and bumps a package, as a patch release does, so deltas are meaningful.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Small, always-present Debian binaries: real ELF content without a huge image. */
const BINARIES = ['/usr/bin/env', '/usr/bin/sort', '/usr/bin/tail', '/usr/bin/head', '/usr/bin/cut', '/usr/bin/uniq', '/usr/bin/wc', '/usr/bin/tr', '/usr/bin/base64', '/usr/bin/md5sum', '/usr/bin/sha256sum', '/usr/bin/du', '/usr/bin/stat', '/usr/bin/find', '/usr/bin/xargs', '/usr/bin/diff', '/usr/bin/gzip'];

export interface SampleImageOptions {
  /** Release version written into the image (changes os-release and the app binary stamp). */
  version: string;
  /** How many bytes of the app payload change between versions (a patch-sized edit). */
  patchSeed?: number;
  out: string;
  /** A release that crash-loops on boot: the fleet simulator's health check fails on this marker. */
  crashLoop?: boolean;
}

/** Written into a crash-looping sample image; the simulator's boot health check looks for it. */
export const CRASH_LOOP_MARKER = 'OTA-SIM-CRASHLOOP: this build crashes on boot';

export function buildSampleImage(opts: SampleImageOptions): { path: string; files: number } {
  const root = mkdtempSync(join(tmpdir(), 'ota-sample-rootfs-'));
  try {
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    mkdirSync(join(root, 'etc'), { recursive: true });
    mkdirSync(join(root, 'var/lib/dpkg'), { recursive: true });
    mkdirSync(join(root, 'opt/app'), { recursive: true });
    let files = 0;
    for (const bin of BINARIES) {
      if (!existsSync(bin)) continue;
      copyFileSync(bin, join(root, 'usr/bin', bin.split('/').pop()!));
      files++;
    }
    // Each release edits a few more regions of the app: consecutive releases differ like patches.
    const [major, minorPart, patch] = opts.version.split(/[.+-]/).map((n) => Number(n) || 0) as [number, number, number];
    const minor = major * 100 + minorPart * 10 + patch;
    writeFileSync(join(root, 'etc/os-release'), `NAME="Edge Gateway OS"\nID=edgeos\nVERSION_ID=${opts.version}\nPRETTY_NAME="Edge Gateway OS ${opts.version}"\n`);
    writeFileSync(join(root, 'var/lib/dpkg/status'), dpkgStatus(minor));
    writeFileSync(join(root, 'opt/app/package.json'), JSON.stringify({ name: 'gateway-app', version: opts.version }, null, 2));
    // The "application": a deterministic blob where each release edits a few regions.
    writeFileSync(join(root, 'opt/app/app.bin'), appPayload(minor + (opts.patchSeed ?? 0)));
    files += 4;
    if (opts.crashLoop) {
      mkdirSync(join(root, 'etc/ota-sim'), { recursive: true });
      writeFileSync(join(root, 'etc/ota-sim/crashloop'), `${CRASH_LOOP_MARKER}\n`);
      files++;
    }
    const res = spawnSync('tar', ['--sort=name', '--mtime=2026-01-01 00:00:00Z', '--owner=0', '--group=0', '--numeric-owner', '-cf', opts.out, '-C', root, '.'], { encoding: 'utf8' });
    if (res.status !== 0) throw new Error(`tar failed: ${res.stderr}`);
    return { path: opts.out, files };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

function dpkgStatus(minor: number): string {
  const packages = [
    ['base-files', '12.4+deb12u5', 'amd64'],
    ['libc6', `2.36-9+deb12u${4 + minor}`, 'amd64'],
    ['openssl', '3.0.15-1~deb12u1', 'amd64'],
    ['busybox', '1:1.35.0-4', 'amd64'],
  ];
  return packages
    .map(([name, version, arch]) => `Package: ${name}\nStatus: install ok installed\nArchitecture: ${arch}\nVersion: ${version}\nMaintainer: Debian <debian@example.org>\nDescription: ${name}\n`)
    .join('\n');
}

/** 2 MiB of structured, compressible-but-not-trivial bytes; `revision` rewrites 1% of them. */
function appPayload(revision: number): Buffer {
  const size = 2 * 1024 * 1024;
  const buf = Buffer.alloc(size);
  let x = 0x9e3779b9;
  for (let i = 0; i < size; i += 4) {
    x = (x * 1103515245 + 12345) >>> 0;
    buf.writeUInt32LE((i >> 6) ^ (x & 0x00ff00ff), i);
  }
  for (let r = 0; r < revision; r++) {
    const offset = ((r * 7919 + 13) * 4099) % (size - 4096);
    buf.fill(0x40 + (r % 32), offset, offset + 2048);
  }
  return buf;
}
