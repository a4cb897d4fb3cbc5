// Releases per hardware id, and one release: artifacts, deltas with their sizes, SBOM components,
// VEX statements, provenance and signatures.
import type { Manifest } from '../../schemas/manifest.js';
import { bytes, html } from '../html.js';
import { page, when, type PageContext } from './layout.js';

export interface ListedRelease {
  channel: string;
  version: string;
  securityVersion: number;
  created: string;
  manifest: { location: string; sha256: string };
}

export interface ReleaseDetailView {
  manifest: Manifest;
  manifestSha256: string;
  components: Array<{ name?: string; version?: string; purl?: string; type?: string }>;
  vex: Array<{ id?: string; state?: string; justification?: string; detail?: string; affects: Array<string | undefined> }>;
  provenance: { predicateType?: string; subject?: Array<{ name?: string; digest?: Record<string, string> }>; predicate?: { buildDefinition?: { buildType?: string }; runDetails?: { builder?: { id?: string } } } };
}

export function releaseListPage(ctx: PageContext, byHardware: Array<{ hardware: string; releases: ListedRelease[]; error?: string }>) {
  const sections = byHardware.map(
    (h) => html`<section><h2>${h.hardware}</h2>${h.error ? html`<p class="error">${h.error}</p>` : ''}
    <table><thead><tr><th>version</th><th>channel</th><th>security version</th><th>created</th><th>manifest sha256</th></tr></thead><tbody>
    ${h.releases.map((r) => html`<tr data-release="${r.version}"><td><a href="/console/releases/${encodeURIComponent(h.hardware)}/${encodeURIComponent(r.version)}">${r.version}</a></td><td>${r.channel}</td><td>${r.securityVersion}</td><td>${when(r.created)}</td><td><code>${r.manifest.sha256.slice(0, 16)}…</code></td></tr>`)}
    </tbody></table></section>`,
  );
  return page(
    'Releases',
    html`<form method="get" action="/console/releases" class="inline-form"><label>hardware id <input name="hardware" maxlength="64"></label><button type="submit">Show</button></form>
    ${sections.length ? sections : html`<p>No hardware ids known yet (no enrolled device): name one above.</p>`}`,
    ctx,
    'releases',
  );
}

export function releaseDetailPage(ctx: PageContext, d: ReleaseDetailView) {
  const m = d.manifest;
  const image = m.image;
  const stored = image.compression === 'none' ? image.length : image.compressedLength;
  const builder = d.provenance.predicate?.runDetails?.builder?.id;
  return page(
    `Release ${m.hardwareId} ${m.version}`,
    html`<dl class="facts"><dt>channel</dt><dd>${m.channel}</dd><dt>security version</dt><dd>${m.securityVersion}</dd><dt>created</dt><dd>${when(m.created)}</dd><dt>expires</dt><dd>${when(m.expires)}</dd>
      ${m.bootMeasurement && html`<dt>boot measurement</dt><dd>PCR ${m.bootMeasurement.pcr} = <code>${m.bootMeasurement.value}</code></dd>`}</dl>
    <h2>Artifacts</h2>
    <table><thead><tr><th>artifact</th><th>size</th><th>compression</th><th>sha256</th><th>location</th></tr></thead><tbody>
      <tr data-artifact="image"><td>full image</td><td>${bytes(image.length)} (stored ${bytes(stored)})</td><td>${image.compression}</td><td><code>${image.sha256}</code></td><td>${image.location}</td></tr>
      ${m.deltas.map((x) => html`<tr data-artifact="delta"><td>${x.format} delta from ${x.fromVersion}</td><td>${bytes(x.length)} (${percent(x.length / stored)} of the full download)</td><td>${x.compression}</td><td><code>${x.sha256}</code></td><td>${x.location}</td></tr>`)}
      ${m.skippedDeltas.map((x) => html`<tr class="muted"><td>${x.format} delta from ${x.fromVersion}</td><td colspan="4">skipped: ${x.reason}</td></tr>`)}
    </tbody></table>
    <h2>Signatures</h2>
    <dl class="facts"><dt>manifest sha256</dt><dd><code>${d.manifestSha256}</code></dd><dt>image signature (Sigstore bundle)</dt><dd>${m.imageSignatureBundle.location} <code>${m.imageSignatureBundle.sha256}</code></dd>
      <dt>provenance bundle</dt><dd>${m.provenance.location} <code>${m.provenance.sha256}</code></dd></dl>
    <h2>Provenance</h2>
    <dl class="facts"><dt>predicate</dt><dd>${d.provenance.predicateType ?? '-'}</dd><dt>builder</dt><dd>${builder ?? '-'}</dd><dt>build type</dt><dd>${d.provenance.predicate?.buildDefinition?.buildType ?? '-'}</dd>
      <dt>subjects</dt><dd>${(d.provenance.subject ?? []).map((s) => html`<div>${s.name} <code>${s.digest?.sha256 ?? ''}</code></div>`)}</dd></dl>
    <h2>SBOM components (${d.components.length})</h2>
    <table><thead><tr><th>name</th><th>version</th><th>type</th><th>purl</th></tr></thead><tbody>
    ${d.components.map((c) => html`<tr><td>${c.name}</td><td>${c.version}</td><td>${c.type}</td><td><code>${c.purl}</code></td></tr>`)}</tbody></table>
    <h2>VEX statements (${d.vex.length})</h2>
    ${d.vex.length ? html`<table><thead><tr><th>vulnerability</th><th>state</th><th>justification</th><th>affects</th><th>detail</th></tr></thead><tbody>
    ${d.vex.map((v) => html`<tr><td>${v.id}</td><td>${v.state}</td><td>${v.justification}</td><td>${v.affects.filter(Boolean).join(', ')}</td><td>${v.detail}</td></tr>`)}</tbody></table>` : html`<p>No VEX statements.</p>`}`,
    ctx,
    'releases',
  );
}

/** A delta's share of the full download; tiny deltas say so instead of rounding to 0. */
function percent(share: number): string {
  return share < 0.001 ? '<0.1%' : `${(share * 100).toFixed(1)}%`;
}
