// Alpine apk installed database (lib/apk/db/installed): blank-line separated records of
// single-letter "K:value" lines (P name, V version, A arch, L license, T description,
// U url, o origin, m maintainer). File lines (F:, R:, Z:) are ignored.
import { apkPurl } from './purl.js';
import type { DistroInfo, PackageRecord } from './types.js';

export function parseApkInstalled(text: string, opts: { distro?: DistroInfo; source?: string } = {}): PackageRecord[] {
  const out: PackageRecord[] = [];
  for (const block of text.replace(/\r\n/g, '\n').split(/\n\s*\n/)) {
    const f: Record<string, string> = {};
    for (const line of block.split('\n')) {
      const m = /^([A-Za-z]):(.*)$/.exec(line);
      if (m && f[m[1]!] === undefined) f[m[1]!] = m[2]!;
    }
    const name = f['P'];
    const version = f['V'];
    if (!name || !version) continue;
    const properties: Record<string, string> = {};
    if (f['o']) properties['edge-ota:apk:origin'] = f['o'];
    if (f['A']) properties['edge-ota:arch'] = f['A'];
    out.push({
      kind: 'library',
      name,
      version,
      purl: apkPurl(name, version, f['A'], opts.distro),
      licenses: f['L'] ? [f['L']] : undefined,
      description: f['T'],
      supplier: f['m'],
      source: opts.source ?? 'apk',
      properties,
      externalUrls: f['U'] ? [{ type: 'website', url: f['U'] }] : undefined,
    });
  }
  return out;
}
