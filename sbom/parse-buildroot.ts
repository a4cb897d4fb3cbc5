// Buildroot `make legal-info` manifest (output/legal-info/manifest.csv). Every field is
// double-quoted; current Buildroot writes
//   "PACKAGE","VERSION","LICENSE","LICENSE FILES","SOURCE ARCHIVE","SOURCE SITE","DEPENDENCIES WITH LICENSES"
// and releases before 2021 lack the last column, so columns are looked up by header name.
import { parseCsv } from './csv.js';
import { genericPurl } from './purl.js';
import type { PackageRecord } from './types.js';

export function looksLikeBuildrootManifest(text: string): boolean {
  return /^\uFEFF?"?PACKAGE"?\s*,\s*"?VERSION"?\s*,\s*"?LICENSE"?/.test(text);
}

export function parseBuildrootManifest(text: string, source = 'buildroot'): PackageRecord[] {
  const rows = parseCsv(text.replace(/^\uFEFF/, ''));
  const header = rows.shift();
  if (!header || header[0]?.trim() !== 'PACKAGE') {
    throw new Error('buildroot manifest: first row must be the PACKAGE,VERSION,LICENSE,... header');
  }
  const col = (name: string) => header.findIndex((h) => h.trim() === name);
  const idx = {
    name: col('PACKAGE'),
    version: col('VERSION'),
    license: col('LICENSE'),
    archive: col('SOURCE ARCHIVE'),
    site: col('SOURCE SITE'),
    deps: col('DEPENDENCIES WITH LICENSES'),
  };
  const get = (row: string[], i: number) => (i >= 0 ? row[i]?.trim() || undefined : undefined);
  const out: PackageRecord[] = [];
  for (const row of rows) {
    const name = get(row, idx.name);
    if (!name) continue;
    const version = get(row, idx.version);
    const license = get(row, idx.license);
    const archive = get(row, idx.archive);
    const site = get(row, idx.site);
    const deps = get(row, idx.deps);
    const properties: Record<string, string> = {};
    if (archive) properties['edge-ota:buildroot:source-archive'] = archive;
    if (deps) properties['edge-ota:buildroot:dependencies'] = deps;
    // Buildroot names are its own (e.g. "libopenssl", "linux"); there is no registry
    // behind them, so pkg:generic is the honest purl type.
    out.push({
      kind: name === 'linux' ? 'operating-system' : 'library',
      name,
      version,
      purl: genericPurl(name, version),
      licenses: license && license !== 'unknown' ? [license] : undefined,
      source,
      properties,
      externalUrls: site && /^[a-z][a-z0-9+.-]*:\/\//i.test(site)
        ? [{ type: 'distribution', url: archive ? `${site.replace(/\/$/, '')}/${archive}` : site }]
        : undefined,
    });
  }
  return out;
}
