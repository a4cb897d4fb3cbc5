// One streaming pass over a tar root filesystem: keeps the small package databases we
// can parse, and hashes every ELF executable / shared object chunk by chunk.
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { readTar, type TarEntry } from '../platform/tar-reader.js';
import { ELF_HEAD_BYTES, machineName, readElfHead } from './elf.js';
import { parseDpkgStatus } from './parse-dpkg.js';
import { parseOpkgStatus } from './parse-opkg.js';
import { parseApkInstalled } from './parse-apk.js';
import { parsePackageJson } from './parse-npm.js';
import { parseOsRelease } from './parse-os-release.js';
import type { DistroInfo, PackageRecord } from './types.js';

export interface ElfFile {
  path: string;
  sha256: string;
  size: number;
  elfType: string;
  machine: string;
  class: number;
}

export interface RootfsScan {
  /** Package databases by kind, keyed by absolute path inside the image. */
  databases: { kind: 'dpkg' | 'opkg' | 'apk'; path: string; text: string }[];
  packageJsons: { path: string; text: string }[];
  osRelease?: { path: string; text: string };
  elfFiles: ElfFile[];
  entries: number;
}

const MAX_DB_BYTES = 64 * 1024 * 1024;
const MAX_PACKAGE_JSON_BYTES = 1024 * 1024;

/** "./usr/bin/env", "usr/bin/env", "/usr/bin/env" -> "/usr/bin/env". */
export function normalizeImagePath(p: string): string {
  const norm = posix.normalize(`/${p}`);
  return norm.length > 1 ? norm.replace(/\/$/, '') : norm;
}

function databaseKind(path: string): 'dpkg' | 'opkg' | 'apk' | undefined {
  if (path === '/var/lib/dpkg/status') return 'dpkg';
  // distroless images keep one stanza file per package here
  if (path.startsWith('/var/lib/dpkg/status.d/') && !path.endsWith('.md5sums')) return 'dpkg';
  if (path === '/usr/lib/opkg/status' || path === '/var/lib/opkg/status') return 'opkg';
  if (path === '/lib/apk/db/installed') return 'apk';
  return undefined;
}

async function readSmall(entry: TarEntry, limit: number): Promise<string | undefined> {
  if (entry.size > limit) return undefined;
  const parts: Buffer[] = [];
  for await (const chunk of entry.body()) parts.push(chunk);
  return Buffer.concat(parts).toString('utf8');
}

/** Hash the body if it is an ELF executable or shared object; otherwise stop reading early. */
async function hashIfElf(entry: TarEntry, path: string): Promise<ElfFile | undefined> {
  if (entry.size < ELF_HEAD_BYTES) return undefined;
  const body = entry.body();
  const hash = createHash('sha256');
  let head: Buffer = Buffer.alloc(0);
  let info: ReturnType<typeof readElfHead>;
  for await (const chunk of body) {
    if (!info) {
      head = head.length ? Buffer.concat([head, chunk]) : chunk;
      if (head.length < ELF_HEAD_BYTES) continue;
      info = readElfHead(head);
      if (!info || (info.elfType !== 'executable' && info.elfType !== 'shared')) {
        return undefined; // leaving the loop closes the body; the tar reader skips the rest unhashed
      }
      hash.update(head);
      continue;
    }
    hash.update(chunk);
  }
  if (!info) return undefined;
  return { path, sha256: hash.digest('hex'), size: entry.size, elfType: info.elfType, machine: machineName(info.machine), class: info.class };
}

export async function scanRootfs(tar: AsyncIterable<Buffer | Uint8Array | string>): Promise<RootfsScan> {
  const scan: RootfsScan = { databases: [], packageJsons: [], elfFiles: [], entries: 0 };
  const osReleases = new Map<string, string>();
  const hardlinks: { path: string; target: string }[] = [];
  for await (const entry of readTar(tar)) {
    scan.entries++;
    const path = normalizeImagePath(entry.path);
    if (entry.type === 'hardlink') {
      hardlinks.push({ path, target: normalizeImagePath(entry.linkname) });
      continue;
    }
    if (entry.type !== 'file') continue;
    const db = databaseKind(path);
    if (db) {
      const text = await readSmall(entry, MAX_DB_BYTES);
      if (text !== undefined) scan.databases.push({ kind: db, path, text });
    } else if (path === '/etc/os-release' || path === '/usr/lib/os-release') {
      const text = await readSmall(entry, MAX_PACKAGE_JSON_BYTES);
      if (text !== undefined) osReleases.set(path, text);
    } else if (posix.basename(path) === 'package.json') {
      const text = await readSmall(entry, MAX_PACKAGE_JSON_BYTES);
      if (text !== undefined) scan.packageJsons.push({ path, text });
    } else {
      const elf = await hashIfElf(entry, path);
      if (elf) scan.elfFiles.push(elf);
    }
  }
  // A hard link shares its target's content: same ELF, another path.
  const elfByPath = new Map(scan.elfFiles.map((e) => [e.path, e]));
  for (const link of hardlinks) {
    const target = elfByPath.get(link.target);
    if (target) scan.elfFiles.push({ ...target, path: link.path });
  }
  // etc/os-release is often a symlink to usr/lib/os-release; take whichever is a real file.
  const osPath = osReleases.has('/etc/os-release') ? '/etc/os-release' : '/usr/lib/os-release';
  const osText = osReleases.get(osPath);
  if (osText !== undefined) scan.osRelease = { path: osPath, text: osText };
  return scan;
}

/** Turn a scan into package records (packages first, then ELF files). */
export function rootfsRecords(scan: RootfsScan): { records: PackageRecord[]; distro?: DistroInfo } {
  const distro = scan.osRelease ? parseOsRelease(scan.osRelease.text) : undefined;
  const records: PackageRecord[] = [];
  for (const db of scan.databases) {
    const source = `${db.kind}:${db.path}`;
    if (db.kind === 'dpkg') records.push(...parseDpkgStatus(db.text, { distro, source }));
    else if (db.kind === 'opkg') records.push(...parseOpkgStatus(db.text, { distro, source }));
    else records.push(...parseApkInstalled(db.text, { distro, source }));
  }
  for (const pj of scan.packageJsons) {
    const rec = parsePackageJson(pj.text, pj.path);
    if (rec) records.push(rec);
  }
  for (const elf of scan.elfFiles) {
    records.push({
      kind: 'file',
      name: elf.path,
      path: elf.path,
      hashes: { 'SHA-256': elf.sha256 },
      source: 'rootfs:elf',
      properties: {
        'edge-ota:file:size': String(elf.size),
        'edge-ota:elf:type': elf.elfType,
        'edge-ota:elf:machine': elf.machine,
        'edge-ota:elf:class': String(elf.class),
      },
    });
  }
  return { records, distro };
}
