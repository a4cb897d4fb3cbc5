// The console over plain HTTP (no browser): the sign-in cookie, CSRF on every state-changing form,
// the API's roles behind the forms (a viewer's forged POST refused 403 and audited, nothing
// changed), escaping of untrusted text, and sign-out. A real operator API on a PGlite fleet store.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerConsole } from '../../console/register.js';
import { FleetStore } from '../../fleet/fleet-store.js';
import { startOperatorApi, type RunningOperatorApi } from '../../operator/app.js';
import { LocalArtifactStore } from '../../stores/local-store.js';
import { requestPendingAdmission } from '../support/operator-calls.js';

const HOSTILE = '<img src=x onerror=alert(1)>"\'';

describe('console over HTTP', () => {
  let dir: string;
  let fleet: FleetStore;
  let api: RunningOperatorApi;
  const tokens: Record<string, string> = {};
  const cookies: Record<string, string> = {};

  const request = (path: string, init: { cookie?: string; form?: Record<string, string> } = {}) =>
    fetch(`${api.url}${path}`, {
      method: init.form ? 'POST' : 'GET',
      redirect: 'manual',
      headers: { ...(init.cookie && { cookie: init.cookie }), ...(init.form && { 'content-type': 'application/x-www-form-urlencoded' }) },
      body: init.form ? new URLSearchParams(init.form).toString() : undefined,
    });
  const csrfOf = async (cookie: string, path = '/console/fleet') => /name="csrf" value="([^"]+)"/.exec(await (await request(path, { cookie })).text())![1]!;
  const signIn = async (token: string) => {
    const response = await request('/console/sign-in', { form: { token } });
    expect(response.status).toBe(303);
    return response.headers.get('set-cookie')!.split(';')[0]!;
  };
  const pending = (deviceId: string, labels?: Record<string, string>) =>
    requestPendingAdmission(fleet, deviceId, 'board-x', { factoryCa: 'cd'.repeat(32), certificatePem: 'x' }).then(() => labels && fleet.acceptDevice(deviceId, { labels }));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ota-console-http-'));
    fleet = await FleetStore.open(`pglite:${join(dir, 'fleet')}`);
    api = await startOperatorApi({ host: '127.0.0.1', port: 0, version: 'test', fleet, store: new LocalArtifactStore(join(dir, 'store')), extraRoutes: (app, context) => registerConsole(app, context) });
    for (const [name, role] of [['viewer', 'viewer'], ['ops', 'fleet-admin']] as const) tokens[name] = (await fleet.createOperatorToken({ name, role, ttlSeconds: 3600, createdBy: 'test' })).token;
    const revoked = await fleet.createOperatorToken({ name: 'leaked', role: 'admin', ttlSeconds: 3600, createdBy: 'test' });
    await fleet.revokeOperatorToken(revoked.record.id);
    tokens.revoked = revoked.token;
    await pending('dev-hostile', { note: HOSTILE });
    await fleet.openQuarantine({ deviceId: 'dev-hostile', code: 'PCR_MISMATCH', reason: `reason ${HOSTILE}`, evidence: {}, remediationVersion: null });
    await pending('factory-1');
  }, 120_000);

  afterAll(async () => {
    await api?.close();
    await fleet?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('sends a visitor without a session to sign in; refuses a bad or revoked token with its code; sets a strict HttpOnly cookie', async () => {
    const anonymous = await request('/console/fleet');
    expect([anonymous.status, anonymous.headers.get('location')]).toEqual([303, '/console/sign-in']);
    const bad = await request('/console/sign-in', { form: { token: 'ota_0123456789ab_nope' } });
    expect(bad.status).toBe(401);
    expect(await bad.text()).toContain('INVALID_TOKEN');
    expect(bad.headers.get('set-cookie')).toBeNull();
    expect(await (await request('/console/sign-in', { form: { token: tokens.revoked! } })).text()).toContain('TOKEN_REVOKED');
    const huge = await request('/console/sign-in', { form: { token: `ey${'x'.repeat(5000)}` } });
    expect([huge.status, huge.headers.get('set-cookie')]).toEqual([400, null]);
    expect(await huge.text()).toContain('a browser cookie limit');
    // A cookie holding a revoked token is verified like a bearer token: refused, and cleared.
    const stale = await request('/console/fleet', { cookie: `ota_console=${tokens.revoked}` });
    expect(stale.status).toBe(401);
    expect(stale.headers.get('set-cookie')).toContain('Max-Age=0');

    const ok = await request('/console/sign-in', { form: { token: tokens.viewer! } });
    expect([ok.status, ok.headers.get('location')]).toEqual([303, '/console/rollouts']);
    expect(ok.headers.get('set-cookie')).toMatch(/^ota_console=ota_[^;]+; Path=\/console; HttpOnly; SameSite=Strict$/);
    cookies.viewer = ok.headers.get('set-cookie')!.split(';')[0]!;
    cookies.ops = await signIn(tokens.ops!);
  });

  it('escapes untrusted device labels and quarantine reasons, and sends a strict content security policy', async () => {
    const response = await request('/console/fleet', { cookie: cookies.viewer });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
    const text = await response.text();
    expect(text).not.toContain('<img src=x');
    expect(text).toContain('note=&lt;img src=x onerror=alert(1)&gt;&quot;&#39;');
    expect(text).toContain('reason &lt;img src=x');
    expect(text).toContain('data-admission="factory-1"');
    // A viewer sees no accept, reject or release buttons.
    expect(text).not.toMatch(/action="\/console\/fleet\/[^"]+\/(accept|reject|quarantine-release)"/);
    expect(await (await request('/console/fleet', { cookie: cookies.ops })).text()).toContain('action="/console/fleet/factory-1/accept"');
  });

  it('refuses a form without the session CSRF token (403 CSRF, no change, no API call) and a viewer forging an accept (403 FORBIDDEN, audited)', async () => {
    const before = (await fleet.listAudit()).length;
    const noCsrf = await request('/console/fleet/factory-1/accept', { cookie: cookies.ops, form: {} });
    expect(noCsrf.status).toBe(403);
    expect(await noCsrf.text()).toContain('CSRF');
    const viewerCsrf = await csrfOf(cookies.viewer!);
    const crossSession = await request('/console/fleet/factory-1/accept', { cookie: cookies.ops, form: { csrf: viewerCsrf } });
    expect(crossSession.status).toBe(403);
    expect((await fleet.listAudit()).length).toBe(before);

    const forged = await request('/console/fleet/factory-1/accept', { cookie: cookies.viewer, form: { csrf: viewerCsrf } });
    expect(forged.status).toBe(403);
    expect(await forged.text()).toContain('FORBIDDEN');
    expect(await fleet.admissionState('factory-1')).toBe('pending');
    expect((await fleet.listAudit()).slice(-1)[0]).toMatchObject({ actor: 'token:viewer', action: 'fleet.accept', target: 'factory-1', result: 'refused' });

    const accepted = await request('/console/fleet/factory-1/accept', { cookie: cookies.ops, form: { csrf: await csrfOf(cookies.ops!) } });
    expect([accepted.status, accepted.headers.get('location')]).toEqual([303, '/console/fleet']);
    expect(await fleet.admissionState('factory-1')).toBe('admitted');
    const released = await request('/console/fleet/dev-hostile/quarantine-release', { cookie: cookies.ops, form: { csrf: await csrfOf(cookies.ops!), note: 'reflashed' } });
    expect(released.status).toBe(303);
    expect(await fleet.openQuarantineFor('dev-hostile')).toBeUndefined();
  });

  it('shows the audit log with its chain status, answers the CVE form, and signs out', async () => {
    const audit = await (await request('/console/audit', { cookie: cookies.viewer })).text();
    expect(audit).toMatch(/Chain intact: \d+ entries/);
    expect(audit).toContain('fleet.quarantine-release');

    const csrf = await csrfOf(cookies.viewer!, '/console/cve');
    const invalid = await (await request('/console/cve', { cookie: cookies.viewer, form: { csrf, query: '<not a cve>' } })).text();
    expect(invalid).toContain('INVALID_QUERY');
    expect(invalid).not.toContain('<not a cve>');
    expect(await (await request('/console/cve', { cookie: cookies.viewer, form: { csrf, query: 'CVE-2024-0001', scan: '{not json' } })).text()).toContain('INVALID_SCAN_REPORT');
    expect(await (await request('/console/cve', { cookie: cookies.viewer, form: { csrf, query: 'CVE-2024-0001' } })).text()).toMatch(/0 device\(s\) affected/);

    expect((await request('/console/sign-out', { cookie: cookies.viewer, form: {} })).status).toBe(403);
    const out = await request('/console/sign-out', { cookie: cookies.viewer, form: { csrf } });
    expect([out.status, out.headers.get('location')]).toEqual([303, '/console/sign-in']);
    expect(out.headers.get('set-cookie')).toContain('Max-Age=0');
  });
});
