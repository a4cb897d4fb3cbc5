// The fleet: devices grouped by the release they run, their health, quarantine state, and the
// factory-identity devices waiting for an operator (accept and reject for roles that may).
import type { DeviceSummary } from '../../operator/fleet-service.js';
import { mayPerform } from '../../operator/roles.js';
import { html } from '../html.js';
import { csrfField, page, when, type PageContext } from './layout.js';

interface Quarantine {
  deviceId: string;
  code: string;
  reason: string;
  since: string;
  remediationVersion: string | null;
}
interface Admission {
  deviceId: string;
  hardwareId: string;
  state: string;
  factoryCa: string;
  requestedAt: string;
}

const labelText = (labels: Record<string, string>) => Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(', ') || '-';

function health(d: DeviceSummary): string {
  if (d.revokedAt) return 'revoked';
  if (!d.lastState) return d.lastCheckinAt ? 'checked in' : 'never checked in';
  return d.failureKind ? `${d.lastState} (${d.failureKind})` : d.lastState;
}

function actionForm(ctx: PageContext, url: string, label: string, field?: string) {
  return html`<form method="post" action="${url}" class="inline">${csrfField(ctx.csrf)}${field ? html`<input name="${field}" maxlength="1000" placeholder="${field}">` : ''}<button type="submit">${label}</button></form>`;
}

export function fleetPage(ctx: PageContext, devices: DeviceSummary[], quarantines: Quarantine[], admissions: Admission[]) {
  const quarantined = new Map(quarantines.map((q) => [q.deviceId, q]));
  const byRelease = new Map<string, DeviceSummary[]>();
  for (const d of devices) byRelease.set(d.currentVersion ?? '(unknown)', [...(byRelease.get(d.currentVersion ?? '(unknown)') ?? []), d]);
  const mayRelease = mayPerform(ctx.principal.role, 'fleet.quarantine-release');
  const groups = [...byRelease].sort(([a], [b]) => b.localeCompare(a, undefined, { numeric: true })).map(
    ([release, list]) => html`<section data-release-group="${release}"><h2>${release} <small>${list.length} device(s)</small></h2>
    <table><thead><tr><th>device</th><th>hardware / channel</th><th>labels</th><th>health</th><th>slot</th><th>last check-in</th><th>attestation</th></tr></thead><tbody>
    ${list.map((d) => {
      const q = quarantined.get(d.id);
      return html`<tr data-device="${d.id}"><td>${d.id}</td><td>${d.hardwareId} / ${d.channel}</td><td>${labelText(d.labels)}</td><td>${health(d)}</td><td>${d.slot ?? '-'}</td><td>${when(d.lastCheckinAt)}</td>
        <td>${q ? html`<span class="flag">quarantined: ${q.code}</span> ${q.reason}${q.remediationVersion ? ` (remediation ${q.remediationVersion})` : ''} ${mayRelease ? actionForm(ctx, `/console/fleet/${encodeURIComponent(d.id)}/quarantine-release`, 'release', 'note') : ''}` : 'not quarantined'}</td></tr>`;
    })}</tbody></table></section>`,
  );
  const mayAdmit = mayPerform(ctx.principal.role, 'fleet.accept');
  const pending = admissions.length
    ? html`<h2>Waiting for admission</h2><table><thead><tr><th>device</th><th>hardware</th><th>state</th><th>factory CA</th><th>requested</th><th></th></tr></thead><tbody>
      ${admissions.map((a) => html`<tr data-admission="${a.deviceId}"><td>${a.deviceId}</td><td>${a.hardwareId}</td><td>${a.state}</td><td><code>${a.factoryCa.slice(0, 16)}…</code></td><td>${when(a.requestedAt)}</td>
        <td>${mayAdmit && a.state === 'pending' ? html`${actionForm(ctx, `/console/fleet/${encodeURIComponent(a.deviceId)}/accept`, 'accept')} ${actionForm(ctx, `/console/fleet/${encodeURIComponent(a.deviceId)}/reject`, 'reject')}` : ''}</td></tr>`)}
      </tbody></table>`
    : '';
  return page('Fleet', html`<p>${devices.length} enrolled device(s), ${quarantines.length} quarantined.</p>${pending}${groups}`, ctx, 'fleet');
}
