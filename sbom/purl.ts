// purl construction and comparison. Everything goes through packageurl-js so the
// strings are canonical and scanner reports can be matched against SBOM purls.
import { PackageURL } from 'packageurl-js';
import type { DistroInfo } from './types.js';

type Qualifiers = Record<string, string | undefined>;

function clean(q: Qualifiers): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(q)) if (v) out[k] = v;
  return Object.keys(out).length ? out : undefined;
}

export function makePurl(
  type: string,
  namespace: string | undefined,
  name: string,
  version: string | undefined,
  qualifiers: Qualifiers = {},
): string {
  return new PackageURL(type, namespace || undefined, name, version || undefined, clean(qualifiers), undefined).toString();
}

/** Grype/Trivy style distro qualifier, e.g. "debian-12". */
export function distroQualifier(distro: DistroInfo | undefined): string | undefined {
  if (!distro) return undefined;
  return distro.versionId ? `${distro.id}-${distro.versionId}` : distro.id;
}

export function debPurl(name: string, version: string, arch: string | undefined, distro?: DistroInfo): string {
  return makePurl('deb', distro?.id ?? 'debian', name, version, { arch, distro: distroQualifier(distro) });
}

export function apkPurl(name: string, version: string, arch: string | undefined, distro?: DistroInfo): string {
  return makePurl('apk', distro?.id ?? 'alpine', name, version, { arch, distro: distroQualifier(distro) });
}

// opkg is not (yet) a registered purl type; purl-spec PR #279 proposes pkg:opkg/<vendor>/name,
// which keeps the ecosystem visible instead of collapsing it into pkg:generic.
export function opkgPurl(name: string, version: string, arch: string | undefined, distro?: DistroInfo): string {
  return makePurl('opkg', distro?.id ?? 'openwrt', name, version, { arch });
}

export function npmPurl(fullName: string, version: string): string {
  const scoped = fullName.startsWith('@') && fullName.includes('/');
  const namespace = scoped ? fullName.slice(0, fullName.indexOf('/')) : undefined;
  const name = scoped ? fullName.slice(fullName.indexOf('/') + 1) : fullName;
  return makePurl('npm', namespace, name, version);
}

export function genericPurl(name: string, version: string | undefined, qualifiers: Qualifiers = {}): string {
  return makePurl('generic', undefined, name, version, qualifiers);
}

/** Canonical form of any purl string; throws on malformed input. */
export function canonicalPurl(purl: string): string {
  return PackageURL.fromString(purl).toString();
}

/** type/namespace/name@version without qualifiers: scanners add or drop qualifiers (distro, arch). */
export function purlIdentity(purl: string): string {
  const p = PackageURL.fromString(purl);
  return new PackageURL(p.type, p.namespace, p.name, p.version, undefined, undefined).toString();
}

export function tryCanonicalPurl(purl: unknown): string | undefined {
  if (typeof purl !== 'string' || !purl.startsWith('pkg:')) return undefined;
  try {
    return canonicalPurl(purl);
  } catch {
    return undefined;
  }
}
