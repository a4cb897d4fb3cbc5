// VEX for one SBOM: release-engineer statements plus (optionally) scanner findings
// nobody has assessed yet (in_triage), as a CycloneDX 1.6 VEX document whose affects
// are BOM-links into the SBOM, and as OpenVEX 0.2.0.
import { createHash } from 'node:crypto';
import { Enums, Models } from '@cyclonedx/cyclonedx-library';
import { serializeValidated } from './cdx-io.js';
import { OPENVEX_CONTEXT, openVexStatement, type OpenVexDocument } from './openvex.js';
import { readScanReport, type Finding } from './scan-reports.js';
import { bomLink, SbomIndex } from './sbom-index.js';
import { parseVexStatements, readVexStatements, type VexStatement } from './vex-statements.js';
import { urnUuid } from './uuid.js';

export interface VexSbomRef {
  serialNumber: string;
  version: number;
  bomRefsByPurl: Record<string, string>;
}

export interface BuildVexInput {
  sbom: VexSbomRef;
  /** YAML or JSON file with the statement list. */
  statementsFile?: string;
  /** Already-loaded statement data (same shape as the file), instead of statementsFile. */
  statements?: unknown;
  /** Grype JSON or OSV-Scanner JSON report of the same image/SBOM. */
  scanReportFile?: string;
  created: string;
  author: string;
}

export interface VexResult {
  cyclonedx: { json: Record<string, unknown>; text: string; serialNumber: string };
  openvex: OpenVexDocument;
  /** Findings whose package is not in the SBOM (reported, not fatal: scanners see more than we list). */
  unmatchedFindings: Finding[];
}

export class VexComponentError extends Error {
  override name = 'VexComponentError';
}

interface Entry {
  vulnerability: string;
  aliases: string[];
  refs: string[];
  state: Enums.Vulnerability.AnalysisState;
  justification?: Enums.Vulnerability.AnalysisJustification;
  detail?: string;
  response: Enums.Vulnerability.AnalysisResponse[];
}

function vulnSource(id: string): Models.Vulnerability.Source {
  if (id.startsWith('CVE-')) return new Models.Vulnerability.Source({ name: 'NVD', url: `https://nvd.nist.gov/vuln/detail/${id}` });
  if (id.startsWith('GHSA-')) return new Models.Vulnerability.Source({ name: 'GitHub', url: `https://github.com/advisories/${id}` });
  return new Models.Vulnerability.Source({ name: 'OSV', url: `https://osv.dev/vulnerability/${id}` });
}

/** Statements -> entries; a purl the SBOM lacks is an error naming the statement. */
function statementEntries(statements: VexStatement[], index: SbomIndex, sbom: VexSbomRef): Entry[] {
  return statements.map((s, i) => {
    const refs = index.resolve(s.purl);
    if (refs.length === 0) {
      throw new VexComponentError(
        `VEX statement ${i} (${s.vulnerability}): component ${s.purl} is not in SBOM ${sbom.serialNumber} version ${sbom.version}`,
      );
    }
    return {
      vulnerability: s.vulnerability,
      aliases: [],
      refs,
      state: s.state,
      justification: s.justification,
      detail: s.detail,
      response: s.response ?? [],
    };
  });
}

/** Findings no statement covers become in_triage entries, one per (vulnerability, component). */
function triageEntries(findings: Finding[], covered: Entry[], index: SbomIndex): { entries: Entry[]; unmatched: Finding[] } {
  const coveredKeys = new Set(covered.flatMap((e) => e.refs.map((r) => `${e.vulnerability}\n${r}`)));
  const byKey = new Map<string, Entry>();
  const unmatched: Finding[] = [];
  for (const f of findings) {
    const refs = index.resolve(f.purl);
    if (refs.length === 0) {
      unmatched.push(f);
      continue;
    }
    const ids = [f.id, ...f.aliases];
    for (const ref of refs) {
      if (ids.some((id) => coveredKeys.has(`${id}\n${ref}`))) continue;
      const key = `${f.id}\n${ref}`;
      const seen = byKey.get(key);
      if (seen) {
        seen.aliases = [...new Set([...seen.aliases, ...f.aliases])].sort();
        continue;
      }
      byKey.set(key, {
        vulnerability: f.id,
        aliases: [...new Set(f.aliases)].sort(),
        refs: [ref],
        state: Enums.Vulnerability.AnalysisState.InTriage,
        detail: `Reported by ${f.scanner}${f.fixedVersions ? ` (fixed in ${f.fixedVersions.join(', ')})` : ''}; not yet assessed.`,
        response: [],
      });
    }
  }
  return { entries: [...byKey.values()], unmatched };
}

export async function buildVex(input: BuildVexInput): Promise<VexResult> {
  const created = new Date(input.created);
  if (Number.isNaN(created.getTime())) throw new Error(`buildVex: created is not a timestamp: ${input.created}`);
  const statements = input.statementsFile
    ? await readVexStatements(input.statementsFile)
    : input.statements !== undefined
      ? parseVexStatements(input.statements)
      : [];
  const index = new SbomIndex(input.sbom.bomRefsByPurl);
  const entries = statementEntries(statements, index, input.sbom);
  const findings = input.scanReportFile ? await readScanReport(input.scanReportFile) : [];
  const triage = triageEntries(findings, entries, index);
  const all = [...entries, ...triage.entries];

  // Same inputs -> same serial number and @id.
  const digest = createHash('sha256').update(JSON.stringify([input.sbom.serialNumber, input.sbom.version, input.created, input.author, all])).digest('hex');
  const serialNumber = urnUuid(`vex:${digest}`);

  const bom = new Models.Bom({ serialNumber, version: 1 });
  bom.metadata = new Models.Metadata({ timestamp: created });
  bom.metadata.authors.add(new Models.OrganizationalContact({ name: input.author }));
  bom.metadata.tools.components.add(
    new Models.Component(Enums.ComponentType.Application, 'edge-ota-sbom', { group: 'edge-ota', bomRef: 'tool:edge-ota-sbom' }),
  );
  all.forEach((e, i) => {
    const vuln = new Models.Vulnerability.Vulnerability({
      bomRef: `vex-${i}`,
      id: e.vulnerability,
      source: vulnSource(e.vulnerability),
      analysis: new Models.Vulnerability.Analysis({ state: e.state, justification: e.justification, detail: e.detail }),
    });
    for (const r of e.response) vuln.analysis!.response.add(r);
    for (const alias of e.aliases) vuln.references.add(new Models.Vulnerability.Reference(alias, vulnSource(alias)));
    for (const ref of e.refs) {
      vuln.affects.add(new Models.Vulnerability.Affect(new Models.BomLinkElement(bomLink(input.sbom.serialNumber, input.sbom.version, ref))));
    }
    bom.vulnerabilities.add(vuln);
  });
  const cdx = await serializeValidated(bom, 'VEX');

  const purlByRef = new Map(Object.entries(input.sbom.bomRefsByPurl).map(([purl, ref]) => [ref, purl]));
  const openvex: OpenVexDocument = {
    '@context': OPENVEX_CONTEXT,
    '@id': urnUuid(`openvex:${digest}`),
    author: input.author,
    timestamp: created.toISOString(),
    version: 1,
    tooling: 'edge-ota-sbom',
    statements: all.map((e) =>
      openVexStatement({ ...e, purls: e.refs.map((r) => purlByRef.get(r) ?? r) }),
    ),
  };
  return { cyclonedx: { ...cdx, serialNumber }, openvex, unmatchedFindings: triage.unmatched };
}
