// PackageRecord -> CycloneDX Component, plus de-duplication and stable bom-refs.
import { Enums, Models } from '@cyclonedx/cyclonedx-library';
import { PackageURL } from 'packageurl-js';
import { toCdxLicenses } from './cdx-licenses.js';
import type { PackageRecord } from './types.js';

/**
 * bom-ref for a record: the purl itself when there is one (stable across runs and
 * meaningful to humans), `file:<path>` for files, otherwise name@version.
 */
export function bomRefFor(rec: PackageRecord): string {
  if (rec.purl) return rec.purl;
  if (rec.kind === 'file' && rec.path) return `file:${rec.path}`;
  return `component:${rec.group ? `${rec.group}/` : ''}${rec.name}${rec.version ? `@${rec.version}` : ''}`;
}

/**
 * Identity used for de-duplication: the purl minus the `distro` qualifier (a package read
 * from a handed-in dpkg status and from the rootfs is one package even though only the
 * latter knows the distro), else the bom-ref.
 */
export function dedupeKey(rec: PackageRecord): string {
  if (!rec.purl) return bomRefFor(rec);
  const p = PackageURL.fromString(rec.purl);
  const q = { ...(p.qualifiers ?? {}) };
  delete q['distro'];
  return new PackageURL(p.type, p.namespace, p.name, p.version, Object.keys(q).length ? q : undefined, p.subpath).toString();
}

/** Merge duplicates: first record wins, later ones fill gaps; all sources are remembered. */
export function dedupeRecords(records: PackageRecord[]): PackageRecord[] {
  const byKey = new Map<string, PackageRecord & { sources: Set<string> }>();
  for (const rec of records) {
    const key = dedupeKey(rec);
    const seen = byKey.get(key);
    if (!seen) {
      byKey.set(key, { ...rec, hashes: { ...rec.hashes }, properties: { ...rec.properties }, sources: new Set([rec.source]) });
      continue;
    }
    seen.sources.add(rec.source);
    seen.hashes = { ...rec.hashes, ...seen.hashes };
    seen.properties = { ...rec.properties, ...seen.properties };
    seen.licenses ??= rec.licenses;
    seen.description ??= rec.description;
    seen.supplier ??= rec.supplier;
    seen.externalUrls ??= rec.externalUrls;
    // Prefer the purl that carries more context (the distro qualifier) from the rootfs.
    if (rec.purl && seen.purl && rec.purl.length > seen.purl.length) seen.purl = rec.purl;
  }
  return [...byKey.values()].map(({ sources, ...rec }) => ({
    ...rec,
    properties: { ...rec.properties, 'edge-ota:sbom:source': [...sources].sort().join(' ') },
  }));
}

const HEX = /^[0-9a-f]+$/;

export function recordToComponent(rec: PackageRecord): Models.Component {
  const component = new Models.Component(rec.kind as Enums.ComponentType, rec.name, {
    bomRef: bomRefFor(rec),
    group: rec.group,
    version: rec.version,
    purl: rec.purl,
    description: rec.description,
    supplier: rec.supplier ? new Models.OrganizationalEntity({ name: rec.supplier }) : undefined,
  });
  for (const [alg, content] of Object.entries(rec.hashes ?? {})) {
    if (HEX.test(content)) component.hashes.set(alg as Enums.HashAlgorithm, content);
  }
  for (const l of toCdxLicenses(rec.licenses)) component.licenses.add(l);
  for (const [name, value] of Object.entries(rec.properties ?? {})) component.properties.add(new Models.Property(name, value));
  for (const ref of rec.externalUrls ?? []) {
    const type = ref.type === 'website' ? Enums.ExternalReferenceType.Website
      : ref.type === 'vcs' ? Enums.ExternalReferenceType.VCS
      : Enums.ExternalReferenceType.Distribution;
    component.externalReferences.add(new Models.ExternalReference(ref.url, type));
  }
  return component;
}
