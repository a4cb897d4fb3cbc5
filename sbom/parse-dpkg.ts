// dpkg status database (/var/lib/dpkg/status, or a status.d fragment) -> package records.
import { parseControlStanzas, isInstalled } from './parse-control.js';
import { debPurl } from './purl.js';
import type { DistroInfo, PackageRecord } from './types.js';

export function parseDpkgStatus(text: string, opts: { distro?: DistroInfo; source?: string } = {}): PackageRecord[] {
  const out: PackageRecord[] = [];
  for (const s of parseControlStanzas(text)) {
    const name = s['Package'];
    const version = s['Version'];
    if (!name || !version || !isInstalled(s['Status'])) continue;
    const arch = s['Architecture'];
    const properties: Record<string, string> = {};
    // Source package name lets scanners map binary packages to security trackers.
    if (s['Source']) properties['edge-ota:deb:source'] = s['Source'].split(/\s+/)[0]!;
    if (arch) properties['edge-ota:arch'] = arch;
    out.push({
      kind: 'library',
      name,
      version,
      purl: debPurl(name, version, arch, opts.distro),
      description: s['Description']?.split('\n')[0],
      supplier: s['Maintainer'],
      source: opts.source ?? 'dpkg',
      properties,
      externalUrls: s['Homepage'] ? [{ type: 'website', url: s['Homepage'] }] : undefined,
    });
  }
  return out;
}
