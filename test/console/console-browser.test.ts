// The console in a real browser: Debian's chromium driven by playwright-core against a real operator
// API on the PGlite fleet store shared with a real gateway and rollout worker, on a Temporal dev
// server, with simulated devices checking in. An engineer signs in with an OIDC JWT, pauses and
// resumes a rollout and watches its ring counts change without reloading; a viewer signed in with an
// API token sees no controls and a forged POST is refused 403; sign-out ends the session.
// CONSOLE_SCREENSHOTS=1 writes the main pages to docs/console/*.png.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { registerConsole } from '../../console/register.js';
import { startOperatorApi, type RunningOperatorApi } from '../../operator/app.js';
import { projectRoot } from '../../platform/paths.js';
import type { ProtocolFleet } from '../../sim/protocol-fleet.js';
import { startOidcIssuer, type TestIssuer } from '../support/oidc-issuer.js';
import { HARDWARE, ReleaseHarness } from '../support/release-harness.js';
import { enrollFleet, InProcessServices } from '../support/rollout-fleet.js';
import { startTemporal } from '../support/temporal.js';

const CHROMIUM = process.env.OTA_CHROMIUM ?? '/usr/bin/chromium';
const QUEUE = 'console-browser-rollouts';
const ROLLOUT = 'rollout-console-browser';
const SHOTS = process.env.CONSOLE_SCREENSHOTS ? join(projectRoot, 'docs', 'console') : undefined;

const policy = {
  target: { hardware: HARDWARE },
  rings: [
    { name: 'canary', size: { count: 2 }, bakeTime: '1s', minReports: 2, thresholds: { failureRate: 0.5, maxFailures: 1 }, onBreach: 'halt' },
    { name: 'fleet', size: { percent: 100 }, bakeTime: '1s', minReports: 4, thresholds: { failureRate: 0.5, maxFailures: 1 }, onBreach: 'halt' },
  ],
  exposureBudget: { percent: 100 },
  maxConcurrentInstalls: 4,
  pollInterval: '300ms',
};

describe('web console in chromium', () => {
  let env: TestWorkflowEnvironment;
  let releases: ReleaseHarness;
  let services: InProcessServices;
  let devices: ProtocolFleet;
  let issuer: TestIssuer;
  let api: RunningOperatorApi;
  let browser: Browser;
  let engineer: BrowserContext;
  let viewer: BrowserContext;
  let viewerToken: string;
  let ticking = false;
  let ticker: Promise<void> | undefined;

  const shot = async (page: Page, name: string) => {
    if (SHOTS) await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  };
  const signIn = async (context: BrowserContext, token: string): Promise<Page> => {
    const page = await context.newPage();
    await page.goto(`${api.url}/console/`);
    expect(new URL(page.url()).pathname).toBe('/console/sign-in');
    await page.fill('#token', token);
    await Promise.all([page.waitForURL(`${api.url}/console/rollouts`), page.click('button[type=submit]')]);
    return page;
  };
  const cell = (page: Page, ring: string, field: string) => page.locator(`tr[data-ring="${ring}"] td[data-field="${field}"]`);

  beforeAll(async () => {
    // No silent skip: a machine without chromium fails here and says what is missing.
    if (!existsSync(CHROMIUM)) throw new Error(`chromium not found at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) or set OTA_CHROMIUM; the console browser tests need it`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    ({ env } = await startTemporal());
    releases = await ReleaseHarness.start(env.address, 'console-browser-releases');
    await releases.publishSampleReleases(['1.0.0', '1.1.0'], releases.stateDir);
    services = await InProcessServices.start(releases, QUEUE);
    devices = await enrollFleet(releases, services.admission, 4, '1.0.0', (i) => ({ site: i % 2 ? 'north' : '<b>south</b>' }));
    issuer = await startOidcIssuer();
    api = await startOperatorApi({
      host: '127.0.0.1',
      port: 0,
      version: 'test',
      fleet: services.fleetStore,
      store: releases.store,
      temporal: { client: releases.client, taskQueue: QUEUE },
      oidc: { issuer: issuer.url, audience: 'edge-ota' },
      extraRoutes: (app, context) => registerConsole(app, context),
    });
    viewerToken = (await services.fleetStore.createOperatorToken({ name: 'wallboard', role: 'viewer', ttlSeconds: 3600, createdBy: 'test' })).token;
    engineer = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    viewer = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    if (SHOTS) await mkdir(SHOTS, { recursive: true });
  }, 300_000);

  afterAll(async () => {
    ticking = false;
    await ticker;
    await browser?.close();
    await api?.close();
    await issuer?.close();
    await services?.close();
    await releases?.close();
    await env?.teardown();
  });

  let page: Page;
  let jwt: string;

  it('an engineer signs in with an OIDC JWT and opens the live view of a rollout', async () => {
    jwt = await issuer.token('erin', { ota_role: 'release-engineer' });
    page = await signIn(engineer, jwt);
    await expect(page.locator('[data-testid=who]').textContent()).resolves.toContain('erin');
    const started = await fetch(`${api.url}/v1/rollouts`, { method: 'POST', headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' }, body: JSON.stringify({ release: '1.1.0', hardware: HARDWARE, policy, id: ROLLOUT, reason: 'console test' }) });
    expect(started.status).toBe(200);

    await page.reload();
    await page.click(`tr[data-rollout="${ROLLOUT}"] a`);
    expect(new URL(page.url()).pathname).toBe(`/console/rollouts/${ROLLOUT}`);
    await expect.poll(() => cell(page, 'canary', 'assigned').textContent(), { timeout: 60_000 }).toBe('2');
    await expect(page.locator('button[data-control]').evaluateAll((buttons) => buttons.map((b) => b.getAttribute('data-control')))).resolves.toEqual(['pause', 'abort']);
  }, 300_000);

  it('a viewer sees no controls on the live rollout, and a forged control POST is refused 403 (CSRF without the token, FORBIDDEN with it)', async () => {
    const viewerPage = await signIn(viewer, viewerToken);
    await viewerPage.goto(`${api.url}/console/rollouts/${ROLLOUT}`);
    await expect(viewerPage.locator('[data-testid=state]').textContent()).resolves.not.toBe('completed');
    await expect(viewerPage.locator('button[data-control]').count()).resolves.toBe(0);
    await expect(viewerPage.locator('[data-testid=no-controls]').textContent()).resolves.toBe('Your role (viewer) may not steer rollouts.');
    await shot(viewerPage, 'rollout-viewer');
    const csrf = await viewerPage.locator('input[name=csrf]').first().getAttribute('value');
    const noToken = await viewer.request.post(`${api.url}/console/rollouts/${ROLLOUT}/pause`, { form: { reason: 'forged' }, maxRedirects: 0 });
    expect(noToken.status()).toBe(403);
    expect(await noToken.text()).toContain('CSRF');
    const forged = await viewer.request.post(`${api.url}/console/rollouts/${ROLLOUT}/abort`, { form: { csrf: csrf!, reason: 'forged' }, maxRedirects: 0 });
    expect(forged.status()).toBe(403);
    expect(await forged.text()).toContain('FORBIDDEN');
    const status = (await (await fetch(`${api.url}/v1/rollouts/${ROLLOUT}`, { headers: { authorization: `Bearer ${viewerToken}` } })).json()) as { state: string };
    expect(status.state).not.toBe('aborted');
    const audit = await services.fleetStore.listAudit({ target: ROLLOUT });
    expect(audit.filter((e) => e.actor === 'token:wallboard').map((e) => `${e.action} ${e.result} ${String(e.detail.code)}`)).toEqual(['rollout.abort refused FORBIDDEN']);
  }, 120_000);

  it('the engineer pauses and resumes the rollout, and watches its rings advance without a reload', async () => {
    // The page is never reloaded from here on: a marker set now must survive every update.
    await page.evaluate(() => ((globalThis as unknown as { consoleMarker: number }).consoleMarker = 1));

    await page.fill('form.controls input[name=reason]', 'checking the canary by hand');
    await Promise.all([page.waitForURL(`${api.url}/console/rollouts/${ROLLOUT}`), page.click('button[data-control=pause]')]);
    await expect.poll(() => page.locator('.summary').textContent(), { timeout: 30_000 }).toContain('paused');
    await expect(page.locator('button[data-control=resume]').count()).resolves.toBe(1);
    await shot(page, 'rollout-paused');
    await Promise.all([page.waitForURL(`${api.url}/console/rollouts/${ROLLOUT}`), page.click('button[data-control=resume]')]);
    await expect.poll(() => page.locator('button[data-control=pause]').count(), { timeout: 30_000 }).toBe(1);
    await page.evaluate(() => ((globalThis as unknown as { consoleMarker: number }).consoleMarker = 1));

    // Devices start checking in: the canary reports, then the fleet ring opens, all on the same page.
    ticking = true;
    ticker = (async () => {
      while (ticking) {
        await devices.tick(() => ({ result: 'commit' }));
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    await expect.poll(() => cell(page, 'canary', 'reported').textContent(), { timeout: 90_000 }).toBe('2');
    await expect.poll(() => cell(page, 'fleet', 'assigned').textContent(), { timeout: 90_000 }).not.toBe('0');
    await expect.poll(() => page.locator('[data-testid=state]').textContent(), { timeout: 120_000 }).toBe('completed');
    expect(await page.evaluate(() => (globalThis as unknown as { consoleMarker?: number }).consoleMarker)).toBe(1);
    expect(await cell(page, 'fleet', 'committed').textContent()).toBe('2');
    await expect(page.locator('svg.chart').count()).resolves.toBe(2);
    await expect(page.locator('table.decisions').textContent()).resolves.toContain('checking the canary by hand');
    await shot(page, 'rollout-live');

    const audit = await services.fleetStore.listAudit({ target: ROLLOUT });
    expect(audit.map((e) => `${e.actor} ${e.action} ${e.result}`)).toEqual(expect.arrayContaining(['erin rollout.start ok', 'erin rollout.pause ok', 'erin rollout.resume ok']));
    expect(audit.find((e) => e.action === 'rollout.pause')).toMatchObject({ reason: 'checking the canary by hand', role: 'release-engineer' });
    expect((await services.fleetStore.verifyAuditChain()).ok).toBe(true);
    ticking = false;
    await ticker;
  }, 300_000);

  it('shows releases, a release with its deltas and SBOM, the fleet by release, the audit log and the CVE view', async () => {
    const page = await viewer.newPage();
    await page.goto(`${api.url}/console/releases`);
    await expect(page.locator('tr[data-release]').count()).resolves.toBe(2);
    await shot(page, 'releases');
    await page.click('tr[data-release="1.1.0"] a');
    await expect(page.locator('h1').textContent()).resolves.toBe(`Release ${HARDWARE} 1.1.0`);
    await expect(page.locator('tr[data-artifact="image"]').count()).resolves.toBe(1);
    await expect(page.locator('text=SBOM components').count()).resolves.toBe(1);
    await shot(page, 'release-detail');

    await page.goto(`${api.url}/console/fleet`);
    await expect(page.locator('section[data-release-group="1.1.0"] tr[data-device]').count()).resolves.toBe(4);
    // The hostile label is shown as text, never as markup.
    await expect(page.locator('section[data-release-group="1.1.0"]').textContent()).resolves.toContain('site=<b>south</b>');
    await expect(page.locator('section b').count()).resolves.toBe(0);
    await shot(page, 'fleet');

    await page.goto(`${api.url}/console/audit`);
    await expect(page.locator('[data-testid=chain]').textContent()).resolves.toMatch(/Chain intact/);
    await shot(page, 'audit');

    await page.goto(`${api.url}/console/cve`);
    // Every device runs 1.1.0; both releases hold busybox, so no published release fixes it.
    await page.fill('input[name=query]', 'pkg:deb/edgeos/busybox');
    await page.click('form.cve button[type=submit]');
    await expect(page.locator('[data-testid=affected-summary]').textContent()).resolves.toMatch(/^4 device\(s\) affected on 2 release\(s\)/);
    await expect(page.locator('tr[data-device]').first().textContent()).resolves.toContain('no fix published');
    await shot(page, 'cve');
  }, 120_000);

  it('signs out: the cookie is gone and pages ask to sign in again', async () => {
    const page = await viewer.newPage();
    await page.goto(`${api.url}/console/fleet`);
    await Promise.all([page.waitForURL(`${api.url}/console/sign-in`), page.click('nav button[type=submit]')]);
    await shot(page, 'sign-in');
    expect((await viewer.cookies()).filter((c) => c.name === 'ota_console')).toEqual([]);
    await page.goto(`${api.url}/console/rollouts`);
    expect(new URL(page.url()).pathname).toBe('/console/sign-in');
  }, 60_000);
});
