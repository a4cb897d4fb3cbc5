// Rollouts: the list, and the live view of one (rings with counts and verdicts, a chart per ring
// against its control cohort, decisions with their figures, and the controls the role allows).
import { mayPerform } from '../../operator/roles.js';
import type { RolloutListing } from '../../operator/rollout-service.js';
import type { RolloutStatus } from '../../rollout/types.js';
import { chartLegend, ringChart } from '../chart.js';
import { html, percent, trusted, type Html } from '../html.js';
import type { Sample } from '../rollout-history.js';
import { csrfField, page, when, type PageContext } from './layout.js';

export function rolloutListPage(ctx: PageContext, rollouts: RolloutListing[]) {
  const rows = rollouts.map(
    (r) => html`<tr data-rollout="${r.id}"><td><a href="/console/rollouts/${encodeURIComponent(r.id)}">${r.id}</a></td><td>${r.hardware}</td><td>${r.release}</td><td><span class="state ${r.state ?? ''}">${r.state ?? '-'}</span></td><td>${r.status}</td><td>${when(r.started)}</td></tr>`,
  );
  return page(
    'Rollouts',
    rollouts.length
      ? html`<table><thead><tr><th>rollout</th><th>hardware</th><th>release</th><th>state</th><th>workflow</th><th>started</th></tr></thead><tbody>${rows}</tbody></table>`
      : html`<p>No rollouts yet: <code>ota rollout start</code> or <code>POST /v1/rollouts</code>.</p>`,
    ctx,
    'rollouts',
  );
}

const FINISHED = new Set(['completed', 'aborted', 'rolled-back']);

/** The controls this role may use in this state; a viewer gets none. */
export function allowedControls(ctx: PageContext, s: RolloutStatus): Array<'pause' | 'resume' | 'approve' | 'abort'> {
  if (FINISHED.has(s.state)) return [];
  const wanted: Array<'pause' | 'resume' | 'approve' | 'abort'> = [];
  if (!s.paused) wanted.push('pause');
  if (s.paused || s.state === 'halted') wanted.push('resume');
  if (s.waitingApprovalFor || (s.hold && !s.hold.approved)) wanted.push('approve');
  wanted.push('abort');
  return wanted.filter((c) => mayPerform(ctx.principal.role, `rollout.${c}`));
}

function controls(ctx: PageContext, s: RolloutStatus): Html {
  const allowed = allowedControls(ctx, s);
  if (allowed.length === 0) return html`<p class="hint" data-testid="no-controls">${FINISHED.has(s.state) ? 'This rollout is finished.' : `Your role (${ctx.principal.role}) may not steer rollouts.`}</p>`;
  return html`<form method="post" class="controls" data-testid="controls">${csrfField(ctx.csrf)}
    <input name="reason" maxlength="1000" placeholder="reason (kept in the audit log)">
    ${allowed.map((c) => html`<button type="submit" formaction="/console/rollouts/${encodeURIComponent(s.rolloutId)}/${c}" data-control="${c}"${c === 'abort' ? html` class="danger"` : ''}>${c}</button>`)}
  </form>`;
}

function figures(value: unknown): string {
  if (value === undefined) return '';
  const text = JSON.stringify(value);
  return text.length > 400 ? `${text.slice(0, 400)}…` : text;
}

function ringRows(s: RolloutStatus): Html[] {
  return s.rings.map((r) => {
    const h = r.health;
    const control = h?.control ? `${h.control.failures}/${h.control.observed}` : '-';
    const post = h?.heartbeats ? `${h.heartbeats.failures}/${h.heartbeats.observed}` : '-';
    return html`<tr data-ring="${r.name}"><td>${r.name}</td><td><span class="state ${r.state}">${r.state}</span></td>
      <td data-field="assigned">${h?.assigned ?? r.assigned}</td><td data-field="reported">${h?.reported ?? 0}</td><td data-field="committed">${h?.committed ?? 0}</td><td data-field="failed">${h?.failed ?? 0}</td>
      <td>${percent(h && h.reported ? h.failed / h.reported : null)}</td><td>${post}</td><td>${control}</td>
      <td>${r.verdict ? html`<span class="verdict ${r.verdict.verdict}">${r.verdict.verdict}</span> ${r.verdict.reason}` : '-'}</td></tr>`;
  });
}

/** The part of the live view that refreshes every 2 s (rendered here for the page and for live.json). */
export function rolloutLive(ctx: PageContext, s: RolloutStatus, samples: readonly Sample[]): Html {
  const flags = [s.paused && 'paused', s.waitingApprovalFor && `waiting for approval of ring ${s.waitingApprovalFor}`, s.hold && `holding (${s.hold.reason}, ring ${s.hold.ring}): ${s.hold.detail}`, s.healthErrors > 0 && `${s.healthErrors} failed health read(s) in a row`].filter(Boolean) as string[];
  const charts = s.rings.map((r) => ({ ring: r.name, svg: ringChart(r.name, samples) })).filter((c) => c.svg);
  return html`<p class="summary"><span class="state ${s.state}" data-testid="state">${s.state}</span>
    release <strong>${s.releaseVersion}</strong> on <strong>${s.hardwareId}</strong>;
    exposure <span data-testid="exposure">${s.exposure.devices}</span> of ${s.exposure.fleet} devices (budget ${s.exposure.budget})
    ${flags.map((f) => html`<span class="flag">${f}</span>`)}</p>
  ${controls(ctx, s)}
  <h2>Rings</h2>
  <table class="rings"><thead><tr><th>ring</th><th>state</th><th>assigned</th><th>reported</th><th>committed</th><th>failed</th><th>failure rate</th><th>post-commit</th><th>control</th><th>verdict</th></tr></thead><tbody>${ringRows(s)}</tbody></table>
  <h2>Exposure and failure rate over time</h2>
  ${charts.length ? html`${trusted(chartLegend())}<div class="charts">${charts.map((c) => html`<figure><figcaption>${c.ring}</figcaption>${trusted(c.svg)}</figure>`)}</div>` : html`<p class="hint">No samples yet.</p>`}
  <h2>Decisions</h2>
  <table class="decisions"><thead><tr><th>at</th><th>ring</th><th>action</th><th>by</th><th>reason</th><th>figures</th></tr></thead><tbody>
  ${[...s.decisions].reverse().map((d) => html`<tr><td>${when(d.at)}</td><td>${d.ring ?? ''}</td><td>${d.action}</td><td>${d.by ?? 'workflow'}</td><td>${d.reason}</td><td><code>${figures(d.figures)}</code></td></tr>`)}
  </tbody></table>`;
}

export function rolloutPage(ctx: PageContext, s: RolloutStatus, samples: readonly Sample[]) {
  return page(`Rollout ${s.rolloutId}`, html`<section id="live" data-live="/console/rollouts/${encodeURIComponent(s.rolloutId)}/live.json" aria-live="polite">${rolloutLive(ctx, s, samples)}</section>`, ctx, 'rollouts');
}
