// SPDX 2.3 (also 2.2) JSON document -> package records.
import { cdxHashAlgorithm } from './hash-names.js';
import { tryCanonicalPurl } from './purl.js';
import type { ComponentKind, PackageRecord } from './types.js';

interface SpdxPackage {
  SPDXID?: string;
  name?: string;
  versionInfo?: string;
  supplier?: string;
  downloadLocation?: string;
  homepage?: string;
  licenseConcluded?: string;
  licenseDeclared?: string;
  description?: string;
  summary?: string;
  primaryPackagePurpose?: string;
  checksums?: { algorithm?: string; checksumValue?: string }[];
  externalRefs?: { referenceCategory?: string; referenceType?: string; referenceLocator?: string }[];
}

const PURPOSE: Record<string, ComponentKind> = {
  APPLICATION: 'application',
  FRAMEWORK: 'framework',
  LIBRARY: 'library',
  CONTAINER: 'container',
  'OPERATING-SYSTEM': 'operating-system',
  DEVICE: 'device',
  FIRMWARE: 'firmware',
  FILE: 'file',
};

const noAssertion = (v: string | undefined) => !v || v === 'NOASSERTION' || v === 'NONE';

export function isSpdxJson(doc: unknown): boolean {
  return typeof doc === 'object' && doc !== null && typeof (doc as { spdxVersion?: unknown }).spdxVersion === 'string';
}

export function parseSpdxJson(doc: unknown, source = 'spdx'): PackageRecord[] {
  if (!isSpdxJson(doc)) throw new Error('SPDX: not an SPDX JSON document (spdxVersion missing)');
  const d = doc as {
    spdxVersion: string;
    documentDescribes?: string[];
    packages?: SpdxPackage[];
    relationships?: { spdxElementId?: string; relationshipType?: string; relatedSpdxElement?: string }[];
  };
  if (!/^SPDX-2\.[0-3]$/.test(d.spdxVersion)) throw new Error(`SPDX: unsupported version ${d.spdxVersion} (need SPDX-2.x)`);
  const packages = d.packages ?? [];
  // The described package is usually the image itself, which is our metadata.component:
  // drop it when the document also lists its contents.
  const described = new Set(d.documentDescribes ?? []);
  for (const r of d.relationships ?? []) {
    if (r.relationshipType === 'DESCRIBES' && r.spdxElementId === 'SPDXRef-DOCUMENT' && r.relatedSpdxElement) {
      described.add(r.relatedSpdxElement);
    }
  }
  const dropDescribed = packages.some((p) => !described.has(p.SPDXID ?? ''));
  const out: PackageRecord[] = [];
  for (const p of packages) {
    if (!p.name) continue;
    if (dropDescribed && described.has(p.SPDXID ?? '')) continue;
    const purlRef = p.externalRefs?.find(
      (r) => r.referenceType === 'purl' && /^PACKAGE[-_]MANAGER$/.test(r.referenceCategory ?? ''),
    );
    const hashes: Record<string, string> = {};
    for (const c of p.checksums ?? []) {
      const alg = c.algorithm && cdxHashAlgorithm(c.algorithm);
      if (alg && c.checksumValue) hashes[alg] = c.checksumValue.toLowerCase();
    }
    const license = !noAssertion(p.licenseConcluded) ? p.licenseConcluded : !noAssertion(p.licenseDeclared) ? p.licenseDeclared : undefined;
    const properties: Record<string, string> = {};
    if (p.SPDXID) properties['edge-ota:spdx:id'] = p.SPDXID;
    out.push({
      kind: PURPOSE[p.primaryPackagePurpose ?? ''] ?? 'library',
      name: p.name,
      version: noAssertion(p.versionInfo) ? undefined : p.versionInfo,
      purl: tryCanonicalPurl(purlRef?.referenceLocator),
      licenses: license ? [license] : undefined,
      description: p.summary ?? p.description,
      // "Organization: Foo" / "Person: Bar (mail)" -> "Foo" / "Bar (mail)"
      supplier: noAssertion(p.supplier) ? undefined : p.supplier!.replace(/^(Organization|Person|Tool):\s*/, ''),
      hashes,
      source,
      properties,
      externalUrls: !noAssertion(p.downloadLocation) && /^[a-z][a-z0-9+.-]*:\/\//i.test(p.downloadLocation!)
        ? [{ type: 'distribution', url: p.downloadLocation! }]
        : undefined,
    });
  }
  return out;
}
