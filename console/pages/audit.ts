// The audit log: the newest entries, and whether the hash chain holds.
import type { AuditEntry, AuditVerification } from '../../fleet/audit.js';
import { html } from '../html.js';
import { page, when, type PageContext } from './layout.js';

export function auditPage(ctx: PageContext, entries: AuditEntry[], chain: AuditVerification) {
  const status = chain.ok
    ? html`<p class="ok" data-testid="chain">Chain intact: ${chain.entries} entries, each carrying the hash of the one before.</p>`
    : html`<p class="error" data-testid="chain">Chain broken at entry ${chain.firstBroken?.seq}: ${chain.firstBroken?.problem}</p>`;
  return page(
    'Audit log',
    html`${status}<p class="hint">The newest ${entries.length} entries, newest first (all of them: <code>ota audit --json</code> or <code>GET /v1/audit</code>).</p>
    <table class="audit"><thead><tr><th>#</th><th>at</th><th>actor</th><th>role</th><th>action</th><th>target</th><th>result</th><th>reason</th><th>hash</th></tr></thead><tbody>
    ${[...entries].reverse().map((e) => html`<tr data-seq="${e.seq}" class="${e.result}"><td>${e.seq}</td><td>${when(e.at)}</td><td>${e.actor}</td><td>${e.role}</td><td>${e.action}</td><td>${e.target}</td><td>${e.result}${e.detail.code ? html` <code>${String(e.detail.code)}</code>` : ''}</td><td>${e.reason}</td><td><code title="${e.hash}">${e.hash.slice(0, 12)}</code></td></tr>`)}
    </tbody></table>`,
    ctx,
    'audit',
  );
}
