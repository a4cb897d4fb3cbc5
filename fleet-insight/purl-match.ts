// Does a purl name this component? Scanners, VEX authors and SBOMs add or drop qualifiers
// (arch, distro), so qualifiers never decide; a purl without a version names every version.
import { PackageURL } from 'packageurl-js';

// Parsed purls, reused across the releases × findings of one answer; cleared when it grows large.
const parsed = new Map<string, PackageURL | undefined>();
const PARSED_LIMIT = 200_000;

function parse(purl: string): PackageURL | undefined {
  if (parsed.has(purl)) return parsed.get(purl);
  let value: PackageURL | undefined;
  try {
    value = PackageURL.fromString(purl);
  } catch {
    value = undefined;
  }
  if (parsed.size >= PARSED_LIMIT) parsed.clear();
  parsed.set(purl, value);
  return value;
}

/**
 * type/namespace/name, folded (case, '_' as '-', percent-decoding) so that purls which can match always
 * share it; a string operation, no parse, since SBOMs hold thousands. purlMatches decides within it.
 */
export function purlPackage(purl: string): string | undefined {
  if (!purl.startsWith('pkg:') && !/^pkg:/i.test(purl)) return undefined;
  let end = purl.length;
  for (const stop of ['#', '?']) {
    const i = purl.indexOf(stop);
    if (i >= 0 && i < end) end = i;
  }
  let s = purl.slice(4, end);
  const at = s.lastIndexOf('@');
  if (at > s.lastIndexOf('/')) s = s.slice(0, at);
  if (s.includes('%')) {
    try {
      s = decodeURIComponent(s);
    } catch {
      // left encoded: the parse in purlMatches refuses it anyway
    }
  }
  while (s.startsWith('/')) s = s.slice(1);
  while (s.endsWith('/')) s = s.slice(0, -1);
  return s.toLowerCase().replaceAll('_', '-');
}

/** Components by purlPackage, so a finding is compared with the few components of its package only. */
export function indexByPackage(purls: string[]): Map<string, string[]> {
  const index = new Map<string, string[]>();
  for (const purl of purls) {
    const key = purlPackage(purl);
    if (key === undefined) continue;
    const bucket = index.get(key);
    if (bucket) bucket.push(purl);
    else index.set(key, [purl]);
  }
  return index;
}

/** `pattern` names `component`: same type, namespace and name, and the same version when the pattern has one. */
export function purlMatches(pattern: string, component: string): boolean {
  const p = parse(pattern);
  const c = parse(component);
  if (!p || !c) return false;
  if (p.type !== c.type || (p.namespace ?? '') !== (c.namespace ?? '') || p.name !== c.name) return false;
  return !p.version || p.version === c.version;
}

/** A purl the user typed, checked; undefined when it is not one. */
export function parsePurlQuery(text: string): string | undefined {
  return text.startsWith('pkg:') && parse(text) ? text : undefined;
}
