import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildSbom, type SbomResult } from '../../sbom/build-sbom.js';
import { buildVex, VexComponentError, type VexResult } from '../../sbom/build-vex.js';
import { parseBomLink } from '../../sbom/sbom-index.js';
import { VexStatementError } from '../../sbom/vex-statements.js';
import { fixture, makeRootfs, packTar, tempDir } from '../fixtures/sbom/make-rootfs.js';

type Json = Record<string, any>;
const CREATED = '2024-05-02T08:00:00Z';
const AUTHOR = 'release-eng@edge-ota.example';

let sbom: SbomResult;
beforeAll(async () => {
  const rootfs = makeRootfs();
  const tar = packTar(rootfs.dir, join(tempDir(), 'rootfs.tar'));
  sbom = await buildSbom({ image: { path: tar, version: '1.4.0', hardware: 'gw-imx8-rev2' }, created: '2024-05-01T12:00:00Z' });
});

const vulns = (v: VexResult): Json[] => v.cyclonedx.json['vulnerabilities'] as Json[];
const sbomRefs = () => new Set((sbom.json['components'] as Json[]).map((c) => c['bom-ref'] as string));
const refsOf = (v: Json) => (v['affects'] as Json[]).map((a) => parseBomLink(a['ref']).bomRef);

describe('buildVex from release-engineer statements', () => {
  let vex: VexResult;
  beforeAll(async () => {
    vex = await buildVex({ sbom, statementsFile: fixture('vex-statements.yaml'), created: CREATED, author: AUTHOR });
  });

  it('emits schema-valid CycloneDX 1.6 with its own serial number', async () => {
    expect(await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(vex.cyclonedx.text)).toBeNull();
    expect(vex.cyclonedx.serialNumber).toMatch(/^urn:uuid:/);
    expect(vex.cyclonedx.serialNumber).not.toBe(sbom.serialNumber);
    expect(vex.cyclonedx.json['components'] ?? []).toEqual([]); // a VEX document lists no components of its own
  });

  it('points every affects[].ref at a bom-ref that exists in the SBOM, via BOM-links', () => {
    const refs = sbomRefs();
    for (const v of vulns(vex)) {
      for (const a of v['affects'] as Json[]) {
        const link = parseBomLink(a['ref']);
        expect(link.serialNumber).toBe(sbom.serialNumber);
        expect(link.version).toBe(sbom.version);
        expect(refs.has(link.bomRef), link.bomRef).toBe(true);
      }
    }
  });

  it('carries the analysis as stated, resolving purls without qualifiers', () => {
    const byId = Object.fromEntries(vulns(vex).map((v) => [v['id'], v]));
    expect(byId['CVE-2023-4911']['analysis']).toEqual({
      state: 'resolved',
      response: ['update'],
      detail: 'Fixed in 2.36-9+deb12u3 (DSA-5514-1); the image ships deb12u4.',
    });
    expect(refsOf(byId['CVE-2023-4911'])).toEqual(['pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64']);
    expect(byId['CVE-2023-5678']['analysis']['justification']).toBe('code_not_reachable');
    expect(refsOf(byId['CVE-2023-5678'])).toEqual(['pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64']);
    expect(byId['GHSA-4x9r-p7xq-hh6c']['source']).toEqual({ name: 'GitHub', url: 'https://github.com/advisories/GHSA-4x9r-p7xq-hh6c' });
  });

  it('publishes the same statements as OpenVEX 0.2.0', () => {
    const ov = vex.openvex;
    expect(ov['@context']).toBe('https://openvex.dev/ns/v0.2.0');
    expect(ov['@id']).toMatch(/^urn:uuid:/);
    expect(ov.author).toBe(AUTHOR);
    expect(ov.timestamp).toBe('2024-05-02T08:00:00.000Z');
    expect(ov.version).toBe(1);
    const byName = Object.fromEntries(ov.statements.map((s) => [s.vulnerability.name, s]));
    expect(Object.keys(byName).sort()).toEqual(['CVE-2022-48174', 'CVE-2023-4911', 'CVE-2023-5678', 'GHSA-4x9r-p7xq-hh6c']);
    expect(byName['CVE-2023-4911']!.status).toBe('fixed');
    expect(byName['CVE-2023-5678']).toMatchObject({
      status: 'not_affected',
      justification: 'vulnerable_code_not_in_execute_path',
      products: [{ '@id': 'pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64' }],
    });
    expect(byName['GHSA-4x9r-p7xq-hh6c']!.status).toBe('affected');
    expect(byName['GHSA-4x9r-p7xq-hh6c']!.action_statement).toMatch(/pinned trusted root.*workaround is available/);
    expect(byName['CVE-2022-48174']).toMatchObject({ status: 'not_affected', impact_statement: expect.stringMatching(/CONFIG_ASH/) });
    // every product is a purl of the SBOM
    const purls = new Set(Object.keys(sbom.bomRefsByPurl));
    for (const s of ov.statements) for (const p of s.products) expect(purls.has(p['@id']), p['@id']).toBe(true);
  });

  it('is deterministic for identical inputs', async () => {
    const again = await buildVex({ sbom, statementsFile: fixture('vex-statements.yaml'), created: CREATED, author: AUTHOR });
    expect(again.cyclonedx.text).toBe(vex.cyclonedx.text);
    expect(again.openvex).toEqual(vex.openvex);
  });
});

describe('buildVex rejects bad statements', () => {
  it('names the purl and statement when the SBOM lacks the component', async () => {
    const statements = [
      { vulnerability: 'CVE-2023-4911', purl: 'pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64', state: 'in_triage' },
      { vulnerability: 'CVE-2023-38545', purl: 'pkg:deb/debian/curl@7.88.1-10?arch=amd64', state: 'in_triage' },
    ];
    const err = await buildVex({ sbom, statements, created: CREATED, author: AUTHOR }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VexComponentError);
    expect((err as Error).message).toContain('pkg:deb/debian/curl@7.88.1-10?arch=amd64');
    expect((err as Error).message).toMatch(/statement 1 \(CVE-2023-38545\)/);
  });

  it('reports malformed statements by index and field', async () => {
    const file = join(tempDir(), 'bad.yaml');
    writeFileSync(
      file,
      [
        '- vulnerability: CVE-2023-5678',
        '  purl: pkg:deb/debian/libssl3@3.0.11-1~deb12u2',
        '  state: not_affected', // justification missing
        '- vulnerability: CVE-2023-4911',
        '  purl: pkg:deb/debian/libc6@2.36-9+deb12u4',
        '  state: patched', // not a CycloneDX state
        '- vulnerability: not-an-id',
        '  purl: libc6',
        '  state: resolved',
        '  severity: high', // unknown field
      ].join('\n'),
    );
    const err = await buildVex({ sbom, statementsFile: file, created: CREATED, author: AUTHOR }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VexStatementError);
    const msg = (err as Error).message;
    expect(msg).toContain(file);
    expect(msg).toMatch(/statement 0 field "justification": required when state is not_affected/);
    expect(msg).toMatch(/statement 1 field "state"/);
    expect(msg).toMatch(/statement 2 field "vulnerability"/);
    expect(msg).toMatch(/statement 2 field "purl"/);
    expect(msg).toMatch(/statement 2 field "severity"/);
  });

  it('rejects a justification on a state other than not_affected', async () => {
    const statements = [{ vulnerability: 'CVE-2023-4911', purl: 'pkg:deb/debian/libc6@2.36-9+deb12u4', state: 'resolved', justification: 'code_not_present' }];
    await expect(buildVex({ sbom, statements, created: CREATED, author: AUTHOR })).rejects.toThrow(
      /statement 0 field "justification": only allowed when state is not_affected/,
    );
  });
});

describe('buildVex with scanner reports', () => {
  it('Grype: unassessed findings become in_triage, assessed ones are not duplicated', async () => {
    const vex = await buildVex({
      sbom,
      statementsFile: fixture('vex-statements.yaml'),
      scanReportFile: fixture('grype.json'),
      created: CREATED,
      author: AUTHOR,
    });
    expect(await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(vex.cyclonedx.text)).toBeNull();
    const list = vulns(vex);
    expect(list.filter((v) => v['id'] === 'CVE-2023-4911')).toHaveLength(1);
    expect(list.filter((v) => v['id'] === 'CVE-2023-5678')).toHaveLength(1);
    const triage = list.find((v) => v['id'] === 'CVE-2024-2961')!;
    expect(triage['analysis']['state']).toBe('in_triage');
    expect(triage['analysis']['detail']).toMatch(/grype.*2\.36-9\+deb12u7/);
    expect(refsOf(triage)).toEqual(['pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64']);
    expect(vex.unmatchedFindings.map((f) => f.purl)).toEqual(['pkg:deb/debian/curl@7.88.1-10?arch=amd64&distro=debian-12']);
    const ov = vex.openvex.statements.find((s) => s.vulnerability.name === 'CVE-2024-2961')!;
    expect(ov.status).toBe('under_investigation');
  });

  it('OSV-Scanner: packages matched by ecosystem/name/version, aliases kept', async () => {
    const vex = await buildVex({
      sbom,
      statementsFile: fixture('vex-statements.yaml'),
      scanReportFile: fixture('osv-scanner.json'),
      created: CREATED,
      author: AUTHOR,
    });
    const list = vulns(vex);
    const musl = list.find((v) => v['id'] === 'ALPINE-CVE-2025-26519')!;
    expect(musl['analysis']['state']).toBe('in_triage');
    expect(refsOf(musl)).toEqual(['pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64']);
    expect(musl['references']).toEqual([{ id: 'CVE-2025-26519', source: { name: 'NVD', url: 'https://nvd.nist.gov/vuln/detail/CVE-2025-26519' } }]);
    // the GHSA finding is already covered by a statement
    expect(list.filter((v) => v['id'] === 'GHSA-4x9r-p7xq-hh6c')).toHaveLength(1);
    expect(list.find((v) => v['id'] === 'GHSA-4x9r-p7xq-hh6c')!['analysis']['state']).toBe('exploitable');
  });

  it('without statements, a scanner report alone yields an all-in_triage VEX', async () => {
    const vex = await buildVex({ sbom, scanReportFile: fixture('grype.json'), created: CREATED, author: AUTHOR });
    expect(vulns(vex).map((v) => v['analysis']['state'])).toEqual(['in_triage', 'in_triage', 'in_triage']);
  });
});
