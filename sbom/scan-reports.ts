// Scanner reports (Grype JSON, OSV-Scanner JSON) -> flat findings keyed by purl.
import { readFile } from 'node:fs/promises';
import { makePurl, tryCanonicalPurl } from './purl.js';

export interface Finding {
  /** Id as the scanner reports it. */
  id: string;
  /** Other ids for the same vulnerability (CVE for a GHSA, ...). */
  aliases: string[];
  purl: string;
  scanner: 'grype' | 'osv-scanner';
  severity?: string;
  fixedVersions?: string[];
}

interface GrypeReport {
  matches?: {
    vulnerability?: { id?: string; severity?: string; fix?: { versions?: string[] } };
    relatedVulnerabilities?: { id?: string }[];
    artifact?: { name?: string; version?: string; purl?: string };
  }[];
}

interface OsvReport {
  results?: {
    packages?: {
      package?: { name?: string; version?: string; ecosystem?: string; purl?: string };
      vulnerabilities?: { id?: string; aliases?: string[] }[];
    }[];
  }[];
}

export function isGrypeReport(doc: unknown): boolean {
  return typeof doc === 'object' && doc !== null && Array.isArray((doc as GrypeReport).matches);
}

export function isOsvReport(doc: unknown): boolean {
  return typeof doc === 'object' && doc !== null && Array.isArray((doc as OsvReport).results);
}

export function parseGrypeReport(doc: GrypeReport): Finding[] {
  const out: Finding[] = [];
  for (const m of doc.matches ?? []) {
    const id = m.vulnerability?.id;
    const purl = tryCanonicalPurl(m.artifact?.purl);
    if (!id || !purl) continue;
    out.push({
      id,
      aliases: (m.relatedVulnerabilities ?? []).map((r) => r.id).filter((x): x is string => !!x && x !== id),
      purl,
      scanner: 'grype',
      severity: m.vulnerability?.severity?.toLowerCase(),
      fixedVersions: m.vulnerability?.fix?.versions?.length ? m.vulnerability.fix.versions : undefined,
    });
  }
  return out;
}

// OSV ecosystem ("Debian:12", "Alpine:v3.18", "npm") -> purl type/namespace, for reports
// whose packages carry no purl.
const ECOSYSTEMS: Record<string, [string, string | undefined]> = {
  debian: ['deb', 'debian'],
  ubuntu: ['deb', 'ubuntu'],
  alpine: ['apk', 'alpine'],
  npm: ['npm', undefined],
  pypi: ['pypi', undefined],
  'crates.io': ['cargo', undefined],
  go: ['golang', undefined],
  maven: ['maven', undefined],
};

function osvPurl(pkg: { name?: string; version?: string; ecosystem?: string; purl?: string }): string | undefined {
  const direct = tryCanonicalPurl(pkg.purl);
  if (direct) return direct;
  if (!pkg.name || !pkg.version || !pkg.ecosystem) return undefined;
  const eco = ECOSYSTEMS[pkg.ecosystem.split(':')[0]!.toLowerCase()];
  if (!eco) return undefined;
  let [type, namespace] = eco;
  let name = pkg.name;
  if (type === 'npm' && name.startsWith('@')) [namespace, name] = [name.slice(0, name.indexOf('/')), name.slice(name.indexOf('/') + 1)];
  return makePurl(type, namespace, name, pkg.version);
}

export function parseOsvReport(doc: OsvReport): Finding[] {
  const out: Finding[] = [];
  for (const r of doc.results ?? []) {
    for (const p of r.packages ?? []) {
      const purl = p.package ? osvPurl(p.package) : undefined;
      if (!purl) continue;
      for (const v of p.vulnerabilities ?? []) {
        if (!v.id) continue;
        out.push({ id: v.id, aliases: (v.aliases ?? []).filter((a) => a !== v.id), purl, scanner: 'osv-scanner' });
      }
    }
  }
  return out;
}

export function parseScanReport(doc: unknown, source = 'scan report'): Finding[] {
  if (isGrypeReport(doc)) return parseGrypeReport(doc as GrypeReport);
  if (isOsvReport(doc)) return parseOsvReport(doc as OsvReport);
  throw new Error(`${source}: not a Grype JSON ("matches") or OSV-Scanner JSON ("results") report`);
}

export async function readScanReport(path: string): Promise<Finding[]> {
  return parseScanReport(JSON.parse(await readFile(path, 'utf8')), path);
}
