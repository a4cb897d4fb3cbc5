// Which devices run a release affected by a CVE (or a component), less what VEX rules out, and what
// fixes each: `ota fleet affected`, with a Grype or OSV-Scanner report pasted or uploaded.
import type { AffectedAnswer } from '../../fleet-insight/affected-devices.js';
import { html } from '../html.js';
import { csrfField, errorBox, page, type PageContext } from './layout.js';

export function cvePage(ctx: PageContext, asked?: { query: string; answer?: AffectedAnswer; error?: { code: string; message: string } }) {
  const a = asked?.answer;
  const result = a
    ? html`<p data-testid="affected-summary">${a.devices.length} device(s) affected on ${a.releases.filter((r) => r.affected).length} release(s); ${a.unaffectedDevices} not affected; ${a.unknownDevices.length} unknown.</p>
    ${a.devices.length ? html`<table><thead><tr><th>device</th><th>hardware / channel</th><th>release</th><th>ring</th><th>components</th><th>fixed by</th></tr></thead><tbody>
    ${a.devices.map((d) => html`<tr data-device="${d.id}"><td>${d.id}</td><td>${d.hardwareId} / ${d.channel}</td><td>${d.release}</td><td>${d.ring ?? '-'}</td><td>${d.components.map((c) => html`<div><code>${c.purl}</code> ${c.vulnerabilities.join(', ')}</div>`)}</td><td>${d.fixedBy ?? 'no fix published'}</td></tr>`)}
    </tbody></table>` : ''}
    ${a.releases.some((r) => r.suppressed.length) ? html`<h2>Taken out by VEX</h2><ul>${a.releases.flatMap((r) => r.suppressed.map((s) => html`<li>${r.hardwareId} ${r.version}: <code>${s.purl}</code> ${s.vulnerability} ${s.status}</li>`))}</ul>` : ''}`
    : '';
  return page(
    'CVE: affected devices',
    html`${asked?.error && errorBox(asked.error.code, asked.error.message)}
    <form method="post" action="/console/cve" class="cve">${csrfField(ctx.csrf)}
      <label>vulnerability id or purl <input name="query" required maxlength="300" value="${asked?.query ?? ''}" placeholder="CVE-2024-1234 or pkg:deb/debian/openssl"></label>
      <label>scan report (Grype or OSV-Scanner JSON; empty: the releases' own VEX) <input type="file" accept="application/json,.json" data-fills="scan"></label>
      <textarea name="scan" id="scan" rows="6" spellcheck="false" placeholder="or paste the report here"></textarea>
      <button type="submit">Ask</button>
    </form>${result}`,
    ctx,
    'cve',
  );
}
