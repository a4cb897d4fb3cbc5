// Does a purl name this component? Scanners, VEX authors and SBOMs add or drop qualifiers
// (arch, distro), so qualifiers never decide; a purl without a version names every version.
import { PackageURL } from 'packageurl-js';

function parse(purl: string): PackageURL | undefined {
  try {
    return PackageURL.fromString(purl);
  } catch {
    return undefined;
  }
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
