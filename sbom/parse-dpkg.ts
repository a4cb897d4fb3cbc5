// dpkg status database (/var/lib/dpkg/status, or a status.d fragment) -> package records.
import { installedPackages } from './parse-control.js';
import { debPurl } from './purl.js';
import type { DistroInfo, PackageRecord } from './types.js';

export function parseDpkgStatus(text: string, opts: { distro?: DistroInfo; source?: string } = {}): PackageRecord[] {
  return installedPackages(text).map(({ name, version, arch, fields: s }): PackageRecord => {
    const properties: Record<string, string> = {};
    // Source package name lets scanners map binary packages to security trackers.
    if (s['Source']) properties['edge-ota:deb:source'] = s['Source'].split(/\s+/)[0]!;
    if (arch) properties['edge-ota:arch'] = arch;
    return {
      kind: 'library',
      name,
      version,
      purl: debPurl(name, version, arch, opts.distro),
      description: s['Description']?.split('\n')[0],
      supplier: s['Maintainer'],
      source: opts.source ?? 'dpkg',
      properties,
      externalUrls: s['Homepage'] ? [{ type: 'website', url: s['Homepage'] }] : undefined,
    };
  });
}
