// opkg status database (OpenWrt / Yocto: usr/lib/opkg/status or var/lib/opkg/status).
import { parseControlStanzas, isInstalled } from './parse-control.js';
import { opkgPurl } from './purl.js';
import type { DistroInfo, PackageRecord } from './types.js';

export function parseOpkgStatus(text: string, opts: { distro?: DistroInfo; source?: string } = {}): PackageRecord[] {
  const out: PackageRecord[] = [];
  for (const s of parseControlStanzas(text)) {
    const name = s['Package'];
    const version = s['Version'];
    if (!name || !version || !isInstalled(s['Status'])) continue;
    const arch = s['Architecture'];
    out.push({
      kind: 'library',
      name,
      version,
      purl: opkgPurl(name, version, arch, opts.distro),
      licenses: s['License'] ? [s['License']] : undefined,
      source: opts.source ?? 'opkg',
      properties: arch ? { 'edge-ota:arch': arch } : {},
    });
  }
  return out;
}
