// Resolve purls (from VEX statements or scanner findings) to bom-refs of one SBOM.
import { canonicalPurl, purlIdentity } from './purl.js';

export class SbomIndex {
  private readonly exact = new Map<string, string>();
  private readonly byIdentity = new Map<string, Set<string>>();

  constructor(bomRefsByPurl: Record<string, string>) {
    for (const [purl, ref] of Object.entries(bomRefsByPurl)) {
      const canon = canonicalPurl(purl);
      this.exact.set(canon, ref);
      const id = purlIdentity(canon);
      if (!this.byIdentity.has(id)) this.byIdentity.set(id, new Set());
      this.byIdentity.get(id)!.add(ref);
    }
  }

  /**
   * Exact purl first; otherwise every component with the same type/namespace/name@version
   * (scanners and people add or omit qualifiers such as arch and distro).
   */
  resolve(purl: string): string[] {
    const canon = canonicalPurl(purl);
    const hit = this.exact.get(canon);
    if (hit) return [hit];
    return [...(this.byIdentity.get(purlIdentity(canon)) ?? [])].sort();
  }
}

/** BOM-link to an element of another BOM; the bom-ref is percent-encoded as the fragment. */
export function bomLink(serialNumber: string, version: number, bomRef: string): string {
  return `urn:cdx:${serialNumber.replace(/^urn:uuid:/, '')}/${version}#${encodeURIComponent(bomRef)}`;
}

/** Inverse of bomLink: {serial, version, bomRef}. */
export function parseBomLink(link: string): { serialNumber: string; version: number; bomRef: string } {
  const m = /^urn:cdx:([0-9a-f-]{36})\/([1-9][0-9]*)#(.+)$/.exec(link);
  if (!m) throw new Error(`not a BOM-link element: ${link}`);
  return { serialNumber: `urn:uuid:${m[1]}`, version: Number(m[2]), bomRef: decodeURIComponent(m[3]!) };
}
