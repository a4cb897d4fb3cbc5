// opkg status database (OpenWrt / Yocto: usr/lib/opkg/status or var/lib/opkg/status).
import { installedPackages } from './parse-control.js';
import { opkgPurl } from './purl.js';
import type { DistroInfo, PackageRecord } from './types.js';

export function parseOpkgStatus(text: string, opts: { distro?: DistroInfo; source?: string } = {}): PackageRecord[] {
  return installedPackages(text).map(({ name, version, arch, fields: s }): PackageRecord => ({
    kind: 'library',
    name,
    version,
    purl: opkgPurl(name, version, arch, opts.distro),
    licenses: s['License'] ? [s['License']] : undefined,
    source: opts.source ?? 'opkg',
    properties: arch ? { 'edge-ota:arch': arch } : {},
  }));
}
