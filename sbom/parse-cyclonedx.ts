// CycloneDX JSON handed in by the build (any 1.x) -> package records. Nested components
// are flattened; metadata.component (the thing described) is not a component of ours.
import { Enums } from '@cyclonedx/cyclonedx-library';
import { cdxHashAlgorithm } from './hash-names.js';
import { tryCanonicalPurl } from './purl.js';
import type { ComponentKind, PackageRecord } from './types.js';

interface CdxComponent {
  type?: string;
  name?: string;
  group?: string;
  version?: string;
  purl?: string;
  description?: string;
  supplier?: { name?: string };
  hashes?: { alg?: string; content?: string }[];
  licenses?: { license?: { id?: string; name?: string }; expression?: string }[];
  properties?: { name?: string; value?: string }[];
  components?: CdxComponent[];
}

const KINDS = new Set<string>(Object.values(Enums.ComponentType));

export function isCycloneDxJson(doc: unknown): boolean {
  return typeof doc === 'object' && doc !== null && (doc as { bomFormat?: unknown }).bomFormat === 'CycloneDX';
}

export function parseCycloneDxJson(doc: unknown, source = 'cyclonedx'): PackageRecord[] {
  if (!isCycloneDxJson(doc)) throw new Error('CycloneDX: bomFormat "CycloneDX" missing');
  const out: PackageRecord[] = [];
  const visit = (list: CdxComponent[] | undefined) => {
    for (const c of list ?? []) {
      if (c.name) {
        const hashes: Record<string, string> = {};
        for (const h of c.hashes ?? []) {
          const alg = h.alg && cdxHashAlgorithm(h.alg);
          if (alg && h.content) hashes[alg] = h.content.toLowerCase();
        }
        const licenses = (c.licenses ?? [])
          .map((l) => l.expression ?? l.license?.id ?? l.license?.name)
          .filter((l): l is string => !!l);
        const properties: Record<string, string> = {};
        for (const p of c.properties ?? []) if (p.name && p.value !== undefined) properties[p.name] = p.value;
        out.push({
          kind: KINDS.has(c.type ?? '') ? (c.type as ComponentKind) : 'library',
          name: c.name,
          group: c.group || undefined,
          version: c.version || undefined,
          purl: tryCanonicalPurl(c.purl),
          licenses: licenses.length ? licenses : undefined,
          description: c.description,
          supplier: c.supplier?.name,
          hashes,
          source,
          properties,
        });
      }
      visit(c.components);
    }
  };
  visit((doc as { components?: CdxComponent[] }).components);
  return out;
}
