// The web console, mounted under /console/ on the operator API's own Fastify app. Every page reads
// through the operator API itself (an in-process inject with the session's token), so roles, the
// four-eyes rule, refusals and audit entries are the API's, not a copy of them. Forms that change
// state carry a CSRF token bound to the session; the cookie is verified as a bearer token is.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { answerAffected, AffectedQueryError, parseAffectedQuery } from '../fleet-insight/affected-answer.js';
import type { AuditEntry, AuditVerification } from '../fleet/audit.js';
import type { OperatorDeps } from '../operator/deps.js';
import { OperatorError } from '../operator/errors.js';
import type { DeviceSummary } from '../operator/fleet-service.js';
import type { Authenticator, Principal } from '../operator/identity.js';
import { mayPerform } from '../operator/roles.js';
import { ROLLOUT_CONTROLS, type RolloutListing } from '../operator/rollout-service.js';
import { projectRoot } from '../platform/paths.js';
import type { RolloutStatus } from '../rollout/types.js';
import { parseScanReport, type Finding } from '../sbom/scan-reports.js';
import { hardwareIdSchema } from '../schemas/manifest.js';
import type { Html } from './html.js';
import { auditPage } from './pages/audit.js';
import { cvePage } from './pages/cve.js';
import { fleetPage } from './pages/fleet.js';
import { errorBox, page, type PageContext } from './pages/layout.js';
import { releaseDetailPage, releaseListPage, type ListedRelease, type ReleaseDetailView } from './pages/releases.js';
import { rolloutListPage, rolloutLive, rolloutPage } from './pages/rollouts.js';
import { signInPage } from './pages/sign-in.js';
import { RolloutHistory } from './rollout-history.js';
import { clearedSessionCookie, CsrfTokens, readCookie, SESSION_COOKIE, sessionCookie } from './session.js';

export interface ConsoleContext {
  authenticator: Authenticator;
  deps: OperatorDeps;
  /** Cookies get the Secure flag (the API serves HTTPS). */
  secure?: boolean;
}

/** Forms are small; a pasted scan report is the largest (the CLI takes bigger ones from a file). */
const FORM_LIMIT = 4 * 1024 * 1024;
const AUDIT_PAGE = 200;
const MAX_SESSION_TOKEN = 3800;

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

interface Session extends PageContext {
  token: string;
}

/** A refusal from the API (or the console's own, CSRF), shown on a page with the API's status. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function asset(name: string): string {
  return readFileSync(join(projectRoot, 'console', 'assets', name), 'utf8');
}

export async function registerConsole(app: FastifyInstance, context: ConsoleContext): Promise<void> {
  const css = asset('console.css');
  const js = asset('console.js');
  const csrf = new CsrfTokens();
  const history = new RolloutHistory();
  const secure = context.secure ?? false;

  const api = async <T>(token: string, method: 'GET' | 'POST', url: string, payload?: unknown): Promise<T> => {
    const response = await app.inject({ method, url, headers: { authorization: `Bearer ${token}`, ...(payload !== undefined && { 'content-type': 'application/json' }) }, payload: payload === undefined ? undefined : JSON.stringify(payload) });
    const body = response.json() as T & { error?: { code: string; message: string } };
    if (response.statusCode >= 400) throw new Refusal(response.statusCode, body.error?.code ?? 'ERROR', body.error?.message ?? `HTTP ${response.statusCode}`);
    return body;
  };

  const session = async (request: FastifyRequest): Promise<Session | Refusal | undefined> => {
    const token = readCookie(request.headers.cookie, SESSION_COOKIE);
    if (!token) return undefined;
    try {
      const principal: Principal = await context.authenticator.authenticate(`Bearer ${token}`);
      return { token, principal, csrf: csrf.issue(token) };
    } catch (error) {
      if (error instanceof OperatorError) return new Refusal(error.status, error.code, error.message);
      throw error;
    }
  };

  const send = (reply: FastifyReply, status: number, body: Html) => reply.status(status).type('text/html; charset=utf-8').send(body.text);
  const signedOut = (reply: FastifyReply, refusal?: Refusal) =>
    refusal ? send(reply.header('set-cookie', clearedSessionCookie(secure)), 401, signInPage({ code: refusal.code, message: refusal.message })) : reply.redirect('/console/sign-in', 303);

  const shown = (reply: FastifyReply, s: Session, error: unknown) => {
    if (!(error instanceof Refusal)) throw error;
    if (error.status === 401) return signedOut(reply, error);
    return send(reply, error.status, page(error.code === 'CSRF' ? 'Refused' : 'Not possible', errorBox(error.code, error.message), s));
  };

  /** A page for a signed-in operator; no session: the sign-in page. */
  const get = (scope: FastifyInstance, url: string, render: (s: Session, request: FastifyRequest, reply: FastifyReply) => Promise<Html | void>) =>
    scope.get(url, async (request, reply) => {
      const s = await session(request);
      if (!s || s instanceof Refusal) return signedOut(reply, s);
      try {
        const body = await render(s, request, reply);
        if (body) return send(reply, 200, body);
      } catch (error) {
        return shown(reply, s, error);
      }
    });

  /** A state-changing form: session, then its CSRF token, then the action (the API decides the role). */
  const post = (scope: FastifyInstance, url: string, act: (s: Session, form: Record<string, string>, request: FastifyRequest) => Promise<string | Html>) =>
    scope.post(url, async (request, reply) => {
      const s = await session(request);
      if (!s || s instanceof Refusal) return signedOut(reply, s ?? new Refusal(401, 'MISSING_TOKEN', 'sign in first'));
      const form = (request.body ?? {}) as Record<string, string>;
      try {
        if (!csrf.valid(s.token, form.csrf)) throw new Refusal(403, 'CSRF', 'this form did not come from your console session (missing or wrong CSRF token); reload the page and try again');
        const answer = await act(s, form, request);
        return typeof answer === 'string' ? reply.redirect(answer, 303) : send(reply, 200, answer);
      } catch (error) {
        return shown(reply, s, error);
      }
    });

  await app.register(
    async (scope) => {
      scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_LIMIT }, (_request, body, done) => {
        const form: Record<string, string> = Object.create(null);
        for (const [k, v] of new URLSearchParams(body as string)) form[k] ??= v;
        done(null, form);
      });
      scope.addHook('onSend', async (_request, reply) => {
        reply.headers(SECURITY_HEADERS);
      });
      registerRoutes(scope);
    },
    { prefix: '/console' },
  );

  function registerRoutes(scope: FastifyInstance) {
    // On the scope, so the /console prefix, the form parser and the headers apply.
    const scoped = { get: (url: string, r: Parameters<typeof get>[2]) => get(scope, url, r), post: (url: string, a: Parameters<typeof post>[2]) => post(scope, url, a) };

    scope.get('/', async (_request, reply) => reply.redirect('/console/rollouts', 303));
    scope.get('/assets/console.css', async (_request, reply) => reply.type('text/css; charset=utf-8').send(css));
    scope.get('/assets/console.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(js));
    scope.get('/sign-in', async (_request, reply) => send(reply, 200, signInPage()));
    scope.post('/sign-in', async (request, reply) => {
      const token = String(((request.body ?? {}) as Record<string, string>).token ?? '').trim();
      // Browsers drop cookies over 4 KiB: say so rather than "sign in" and lose the session at once.
      if (token.length > MAX_SESSION_TOKEN) return send(reply, 400, signInPage({ code: 'BAD_REQUEST', message: `this token is ${token.length} characters; a console session holds at most ${MAX_SESSION_TOKEN} (a browser cookie limit): use an API token (ota operator token create)` }));
      try {
        await context.authenticator.authenticate(`Bearer ${token}`);
      } catch (error) {
        if (error instanceof OperatorError) return send(reply, error.status, signInPage({ code: error.code, message: error.message }));
        throw error;
      }
      return reply.header('set-cookie', sessionCookie(token, secure)).redirect('/console/rollouts', 303);
    });
    scope.post('/sign-out', async (request, reply) => {
      const s = await session(request);
      const form = (request.body ?? {}) as Record<string, string>;
      // Signing out needs the CSRF token too: a forged form must not end someone's session either.
      if (s && !(s instanceof Refusal) && !csrf.valid(s.token, form.csrf)) return send(reply, 403, page('Refused', errorBox('CSRF', 'sign-out did not come from your console session'), s));
      return reply.header('set-cookie', clearedSessionCookie(secure)).redirect('/console/sign-in', 303);
    });

    scoped.get('/rollouts', async (s) => rolloutListPage(s, (await api<{ rollouts: RolloutListing[] }>(s.token, 'GET', '/v1/rollouts')).rollouts));
    scoped.get('/rollouts/:id', async (s, request) => {
      const status = await api<RolloutStatus>(s.token, 'GET', `/v1/rollouts/${encodeURIComponent((request.params as { id: string }).id)}`);
      return rolloutPage(s, status, history.record(status));
    });
    scoped.get('/rollouts/:id/live.json', async (s, request, reply) => {
      const status = await api<RolloutStatus>(s.token, 'GET', `/v1/rollouts/${encodeURIComponent((request.params as { id: string }).id)}`);
      await reply.type('application/json').send({ state: status.state, html: rolloutLive(s, status, history.record(status)).text });
    });
    for (const control of ROLLOUT_CONTROLS) {
      scoped.post(`/rollouts/:id/${control}`, async (s, form, request) => {
        const id = encodeURIComponent((request.params as { id: string }).id);
        await api(s.token, 'POST', `/v1/rollouts/${id}/${control}`, form.reason ? { reason: form.reason } : {});
        return `/console/rollouts/${id}`;
      });
    }

    scoped.get('/releases', async (s, request) => {
      const asked = (request.query as { hardware?: string }).hardware;
      const devices = (await api<{ devices: DeviceSummary[] }>(s.token, 'GET', '/v1/devices')).devices;
      const hardware = new Set(devices.map((d) => d.hardwareId));
      if (asked) {
        const parsed = hardwareIdSchema.safeParse(asked);
        if (!parsed.success) throw new Refusal(400, 'BAD_REQUEST', `"${asked.slice(0, 64)}" is not a hardware id`);
        hardware.add(parsed.data);
      }
      const lists = await Promise.all(
        [...hardware].sort().map(async (h) => {
          try {
            return { hardware: h, releases: (await api<{ releases: ListedRelease[] }>(s.token, 'GET', `/v1/releases/${encodeURIComponent(h)}`)).releases };
          } catch (error) {
            if (error instanceof Refusal && error.status !== 401) return { hardware: h, releases: [], error: `${error.code}: ${error.message}` };
            throw error;
          }
        }),
      );
      return releaseListPage(s, lists);
    });
    scoped.get('/releases/:hardware/:version', async (s, request) => {
      const { hardware, version } = request.params as { hardware: string; version: string };
      return releaseDetailPage(s, await api<ReleaseDetailView>(s.token, 'GET', `/v1/releases/${encodeURIComponent(hardware)}/${encodeURIComponent(version)}`));
    });

    scoped.get('/fleet', async (s) => {
      const [devices, quarantines, admissions] = await Promise.all([
        api<{ devices: DeviceSummary[] }>(s.token, 'GET', '/v1/devices'),
        api<{ quarantines: Parameters<typeof fleetPage>[2] }>(s.token, 'GET', '/v1/quarantines'),
        api<{ requests: Parameters<typeof fleetPage>[3] }>(s.token, 'GET', '/v1/admissions'),
      ]);
      return fleetPage(s, devices.devices, quarantines.quarantines, admissions.requests);
    });
    const fleetAction = (action: string, apiPath: string, body: (form: Record<string, string>) => Record<string, string>) =>
      scoped.post(`/fleet/:id/${action}`, async (s, form, request) => {
        await api(s.token, 'POST', `/v1/devices/${encodeURIComponent((request.params as { id: string }).id)}/${apiPath}`, body(form));
        return '/console/fleet';
      });
    fleetAction('accept', 'accept', () => ({}));
    fleetAction('reject', 'reject', () => ({}));
    fleetAction('quarantine-release', 'quarantine/release', (form): Record<string, string> => (form.note ? { note: form.note } : {}));

    scoped.get('/audit', async (s) => {
      const chain = await api<AuditVerification>(s.token, 'GET', '/v1/audit/verify');
      const after = Math.max(0, chain.entries - AUDIT_PAGE);
      return auditPage(s, (await api<{ entries: AuditEntry[] }>(s.token, 'GET', `/v1/audit?after=${after}&limit=${AUDIT_PAGE}`)).entries, chain);
    });

    scoped.get('/cve', async (s) => cvePage(s));
    scoped.post('/cve', async (s, form) => {
      // A read, but a POST (the report can be large): the role check is the read's.
      if (!mayPerform(s.principal.role, 'fleet.read')) throw new Refusal(403, 'FORBIDDEN', `${s.principal.role} may not read the fleet`);
      const query = String(form.query ?? '').slice(0, 300);
      try {
        return cvePage(s, { query, answer: await answerAffected({ fleet: context.deps.fleet, store: context.deps.store, query: parseAffectedQuery(query), findings: scanFindings(form.scan) }) });
      } catch (error) {
        if (error instanceof AffectedQueryError) return cvePage(s, { query, error: { code: error.code, message: error.message } });
        throw error;
      }
    });
  }
}

function scanFindings(text: string | undefined): Finding[] {
  if (!text || text.trim() === '') return [];
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new AffectedQueryError('INVALID_SCAN_REPORT', `the scan report is not JSON: ${(error as Error).message}`);
  }
  try {
    return parseScanReport(doc, 'the scan report');
  } catch (error) {
    throw new AffectedQueryError('INVALID_SCAN_REPORT', (error as Error).message);
  }
}
