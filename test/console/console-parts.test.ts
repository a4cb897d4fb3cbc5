// The console's pure parts: escaping, the CSRF token's binding to a session, the cookie reader,
// the chart's paths, the history's bounds, and which rollout controls a role sees.
import { describe, expect, it } from 'vitest';
import { ringChart, seriesPath } from '../../console/chart.js';
import { escapeHtml, html } from '../../console/html.js';
import { allowedControls } from '../../console/pages/rollouts.js';
import { RolloutHistory, sampleOf } from '../../console/rollout-history.js';
import { CsrfTokens, readCookie, sessionCookie } from '../../console/session.js';
import type { RolloutStatus } from '../../rollout/types.js';

const status = (over: Partial<RolloutStatus> = {}): RolloutStatus => ({
  rolloutId: 'r1',
  hardwareId: 'hw',
  releaseVersion: '1.1.0',
  state: 'running',
  ringIndex: 0,
  rings: [{ name: 'canary', state: 'baking', assigned: 2, health: { assigned: 2, reported: 1, committed: 1, failed: 0, failuresByKind: {}, control: { observed: 4, failures: 1 } } }],
  exposure: { devices: 2, budget: 4, fleet: 4 },
  paused: false,
  healthErrors: 0,
  decisions: [],
  ...over,
});

describe('escaping', () => {
  it('escapes every interpolated value, keeps nested templates, drops null and false', () => {
    const label = `<script>alert("x")</script>' onmouseover=\``;
    expect(escapeHtml(label)).toBe('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; onmouseover=&#96;');
    const row = html`<td title="${label}">${label}</td>${html`<b>${'&'}</b>`}${null}${false}${[1, '<2>']}`;
    expect(row.text).not.toContain('<script>');
    expect(row.text).toContain('<b>&amp;</b>');
    expect(row.text.endsWith('1&lt;2&gt;')).toBe(true);
  });
});

describe('session cookie and CSRF', () => {
  it('a CSRF token verifies for its own session only, and is refused when missing, altered or from another process', () => {
    const csrf = new CsrfTokens();
    const token = csrf.issue('ota_session_a');
    expect(csrf.valid('ota_session_a', token)).toBe(true);
    expect(csrf.valid('ota_session_b', token)).toBe(false);
    expect(csrf.valid('ota_session_a', undefined)).toBe(false);
    expect(csrf.valid('ota_session_a', token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A'))).toBe(false);
    expect(new CsrfTokens().valid('ota_session_a', token)).toBe(false);
  });

  it('the cookie is HttpOnly and SameSite=Strict, Secure over HTTPS; the reader finds it among others and ignores huge headers', () => {
    expect(sessionCookie('t', false)).toBe('ota_console=t; Path=/console; HttpOnly; SameSite=Strict');
    expect(sessionCookie('t', true)).toMatch(/; Secure$/);
    expect(readCookie('a=1; ota_console=ota_x%3Dy; b=2', 'ota_console')).toBe('ota_x=y');
    expect(readCookie('ota_console=%E0%A4%A', 'ota_console')).toBeUndefined();
    expect(readCookie(`ota_console=${'x'.repeat(20_000)}`, 'ota_console')).toBeUndefined();
  });
});

describe('chart and history', () => {
  it('draws a path per series with gaps for unknown values, and nothing for a ring without samples', () => {
    expect(seriesPath([{ at: 0, value: 0 }, { at: 10, value: null }, { at: 20, value: 1 }], 0, 20, 1)).toBe('M34.0 102.0 M352.0 8.0');
    expect(ringChart('fleet', [])).toBe('');
    const history = new RolloutHistory(3, 2, 1000);
    history.record(status(), 0);
    history.record(status(), 500); // within the gap: not a new sample
    const samples = history.record(status({ rings: [{ ...status().rings[0]!, health: { ...status().rings[0]!.health!, reported: 2, failed: 1 } }] }), 2000);
    expect(samples.map((s) => s.rings[0]!.failureRate)).toEqual([0, 0.5]);
    expect(samples[0]!.rings[0]).toMatchObject({ exposure: 0.5, controlRate: 0.25 });
    const svg = ringChart('canary', samples);
    expect(svg).toContain('<svg class="chart"');
    expect(svg.match(/<path /g)).toHaveLength(3); // exposure, failures, control (no heartbeats read)
    for (let t = 3000; t < 10_000; t += 1000) history.record(status(), t);
    expect(history.record(status(), 10_000)).toHaveLength(3);
    history.record(status({ rolloutId: 'r2' }), 0);
    history.record(status({ rolloutId: 'r3' }), 0);
    expect(history.record(status(), 20_000)).toHaveLength(1); // r1 was dropped as the oldest of three
    expect(sampleOf(status({ rings: [{ name: 'fleet', state: 'pending', assigned: 3 }] }), 0).rings[0]).toEqual({ ring: 'fleet', exposure: 0, failureRate: null, postCommitRate: null, controlRate: null });
  });
});

describe('rollout controls by role', () => {
  const ctx = (role: 'viewer' | 'release-engineer' | 'approver' | 'admin') => ({ principal: { subject: 's', role, via: 'token' as const }, csrf: 'c' });
  it('a viewer sees none; an engineer pauses, resumes and aborts; only an approver or admin sees approve; a finished rollout has none', () => {
    expect(allowedControls(ctx('viewer'), status())).toEqual([]);
    expect(allowedControls(ctx('release-engineer'), status())).toEqual(['pause', 'abort']);
    expect(allowedControls(ctx('release-engineer'), status({ paused: true }))).toEqual(['resume', 'abort']);
    expect(allowedControls(ctx('release-engineer'), status({ state: 'waiting-approval', waitingApprovalFor: 'canary' }))).toEqual(['pause', 'abort']);
    expect(allowedControls(ctx('approver'), status({ state: 'waiting-approval', waitingApprovalFor: 'canary' }))).toEqual(['pause', 'approve', 'abort']);
    expect(allowedControls(ctx('admin'), status({ state: 'completed' }))).toEqual([]);
  });
});
