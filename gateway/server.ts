// The device gateway: the HTTP endpoint devices talk to. GET /healthz always; with a fleet store and
// an artifact store, the device API of docs/device-api.md (enroll, nonce, check-in, reports, heartbeats,
// artifact and release downloads with Range, the TUF metadata read-only). Errors are JSON {error, detail}.
import type { LocalTrustRootJSON } from '../signing/trust-root.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { FleetStore } from '../fleet/fleet-store.js';
import type { ArtifactStore } from '../stores/artifact-store.js';
import { artifactKeyFromPath, releaseKeyFromPath, serveStoreObject, tufKeyFromPath } from './artifact-download.js';
import { checkin, enroll, heartbeat, issueNonce, report, type DeviceApiOptions } from './device-routes.js';
import { activateAttestationKey, registerAttestationKey, submitQuote } from './attestation-routes.js';
import type { AttestationPolicy } from '../attestation/standing.js';
import type { DriftPolicy } from './drift-gate.js';
import type { ReleasePolicy } from './checkin-offer.js';
import type { OnDemandDeltaPolicy } from './on-demand-delta.js';
import { generateDeviceKey, type DeviceKey } from '../schemas/device-envelope.js';
import { HttpError, sendError, sendJson } from './http.js';
import { issueCertificate, issueCertificateNonce, type CertificateContext, type DeviceIdentityOptions } from './certificate-routes.js';
import { assertQuarantineDownload, assertQuarantineEndpoint } from './quarantine-gate.js';
import { requireClientCertificate } from './client-certificate.js';
import { DEFAULT_CERTIFICATE_RATE_LIMIT, DEFAULT_RATE_LIMITS, RateLimiter, type GatewayRateLimits, type Take } from './rate-limit.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import { gatewayInstruments, noteOutcome, type GatewayInstruments } from './request-metrics.js';

export interface GatewayOptions {
  host: string;
  port: number;
  version: string;
  /** Both needed for the device API; without them only /healthz answers (503 elsewhere under /v1). */
  fleet?: FleetStore;
  store?: ArtifactStore;
  /** Lab only: a fleet-wide enrollment token (`--insecure-shared-token`); default none, devices are admitted per device (gateway/admission.ts). */
  insecureSharedToken?: string;
  /** Lifetime of a nonce from GET /v1/nonce (default 300 s). */
  nonceTtlSeconds?: number;
  /** How long devices wait before the next check-in (default 300 s). */
  pollAfterSeconds?: number;
  /**
   * Lifetime of the `nextNonce` a check-in answer carries for the device's next check-in; must be
   * longer than pollAfterSeconds (the longest wait the gateway tells a device). Default
   * pollAfterSeconds + 600 s (900 s with the default poll), at most a day.
   */
  nextNonceTtlSeconds?: number;
  /**
   * How long an idle device connection is kept open for its next request (default 120 s, see
   * DEFAULT_KEEP_ALIVE_SECONDS): a device polling within it skips the TLS handshake; each idle
   * connection costs gateway memory (docs/fleet-ca.md, "What mutual TLS costs").
   */
  keepAliveTimeoutSeconds?: number;
  /**
   * How long a TLS session can be resumed (its ticket's lifetime). A device whose session is older
   * makes a full handshake, about 2.6 × the gateway CPU of a resumed one (docs/fleet-ca.md), so it
   * must outlive the poll interval: default pollAfterSeconds + 600 s, like nextNonce, at most a day.
   * The client certificate's expiry is still checked per request (client-certificate.ts).
   */
  tlsSessionSeconds?: number;
  /**
   * Which release a device without a rollout assignment is offered. `rollouts`: only releases a
   * finished rollout has released (publishing alone deploys nothing); `newest`: the newest
   * published release (labs, single devices). Default `newest`; `ota gateway` defaults to `rollouts`.
   */
  releasePolicy?: ReleasePolicy;
  /** Serve HTTPS with this key and certificate chain (PEM, e.g. from `ota fleet ca server-cert`); default plain HTTP. */
  tls?: {
    key: string | Buffer;
    cert: string | Buffer;
    /**
     * The session ticket key (TICKET_KEY_BYTES), the same on every replica: a device's session then
     * resumes on whichever gateway the balancer picks. Default: a random key per process, so behind a
     * balancer of N gateways only about 1 in N reconnections resumes.
     */
    ticketKeys?: Buffer;
  };
  /**
   * Mutual TLS (needs `tls`): devices get client certificates from this fleet CA at POST
   * /v1/certificates and must present one on every other /v1 request except enrollment.
   */
  deviceIdentity?: DeviceIdentityOptions;
  /** Signs every check-in answer (`ota gateway` loads gateway.answerKeyPath); default: a key made in memory for this process. */
  answerKey?: DeviceKey;
  /** Request limits per remote address and per device (429 with Retry-After); default DEFAULT_RATE_LIMITS, false: none. */
  rateLimits?: GatewayRateLimits | false;
  /** Prometheus metrics (metrics/gateway-metrics.ts), counted per request and served on GET /metrics; default none. */
  metrics?: GatewayMetrics;
  /** Attestation policy (docs/attestation.md): quarantine on failed, stale or missing evidence; default none. */
  attestation?: AttestationPolicy;
  /** Posture drift policy (gateway/drift-gate.ts): drift is recorded always; these kinds quarantine. Default: none quarantine. */
  drift?: DriftPolicy;
  /** Deltas on demand for devices older than the last K releases (gateway/on-demand-delta.ts); default off. */
  onDemandDeltas?: OnDemandDeltaPolicy;
  /** The fleet's Sigstore trust root (trusted_root.json): keyless approvals count only when they verify against it; default: they do not count. */
  sigstoreTrustRoot?: LocalTrustRootJSON;
  /** Called with unexpected (5xx) errors; default writes them to stderr. */
  logError?: (error: unknown, req: IncomingMessage) => void;
}

export interface RunningGateway {
  server: Server | HttpsServer;
  url: string;
  close(): Promise<void>;
}

function allow(req: IncomingMessage, ...methods: string[]): void {
  if (!methods.includes(req.method ?? '')) throw new HttpError(405, 'method-not-allowed', `${req.method} is not allowed here; use ${methods.join(' or ')}`, { allow: methods.join(', ') });
}

/** The device API's fixed paths: the one method each takes and its handler. */
const DEVICE_ENDPOINTS = new Map<string, { method: string; handle: (api: DeviceApiOptions, url: URL, req: IncomingMessage, res: ServerResponse) => Promise<void> }>([
  ['/v1/enroll', { method: 'POST', handle: (api, _url, req, res) => enroll(api, req, res) }],
  ['/v1/nonce', { method: 'GET', handle: (api, url, _req, res) => issueNonce(api, url, res) }],
  ['/v1/checkin', { method: 'POST', handle: (api, _url, req, res) => checkin(api, req, res) }],
  ['/v1/reports', { method: 'POST', handle: (api, _url, req, res) => report(api, req, res) }],
  ['/v1/heartbeats', { method: 'POST', handle: (api, _url, req, res) => heartbeat(api, req, res) }],
  ['/v1/attestation/key', { method: 'POST', handle: (api, _url, req, res) => registerAttestationKey(api, req, res) }],
  ['/v1/attestation/quote', { method: 'POST', handle: (api, _url, req, res) => submitQuote(api, req, res) }],
  ['/v1/attestation/activate', { method: 'POST', handle: (api, _url, req, res) => activateAttestationKey(api, req, res) }],
]);

/**
 * With mTLS on, the /v1 paths a device reaches without its client certificate (it has none yet, or
 * it expired). A TPM device registers and activates its AK before its first certificate (its CSR is
 * for a TLS key the TPM-held key vouches for, which needs an activated AK): both are signed by the
 * enrolled key and spend a nonce from POST /v1/certificates/nonce, itself a signed request.
 */
const OPEN_WITHOUT_CERTIFICATE = new Set(['/v1/enroll', '/v1/certificates', '/v1/certificates/nonce', '/v1/attestation/key', '/v1/attestation/activate']);

/** Downloads straight from the artifact store (GET or HEAD, with Range): path prefix -> store key. */
const STORE_DOWNLOADS: Array<[prefix: string, keyFromPath: (rest: string) => string]> = [
  ['/v1/artifacts/', artifactKeyFromPath],
  ['/v1/releases/', releaseKeyFromPath],
  ['/v1/tuf/', tufKeyFromPath],
];

/** The limiters of one gateway; `check` throws 429 when the request's address or device is over its limit. */
function rateLimiting(limits: GatewayRateLimits | false) {
  if (!limits) return { check: () => {}, certificateDevice: () => {} };
  const perAddress = new RateLimiter(limits.perAddress);
  const perDeviceNonce = new RateLimiter(limits.perDeviceNonce);
  const perDeviceCertificate = new RateLimiter(limits.perDeviceCertificate ?? DEFAULT_CERTIFICATE_RATE_LIMIT);
  const refuse = (taken: Take, what: string) => {
    if (!taken.ok) throw new HttpError(429, 'rate-limited', `too many requests from ${what}; retry in ${taken.retryAfterSeconds} s`, { 'retry-after': String(taken.retryAfterSeconds) });
  };
  return {
    check(req: IncomingMessage, url: URL) {
      const now = Date.now();
      const address = req.socket.remoteAddress ?? 'unknown';
      refuse(perAddress.take(address, now), `this address`);
      if (url.pathname === '/v1/nonce') refuse(perDeviceNonce.take(url.searchParams.get('device') ?? '', now), 'this device');
    },
    /** Certificate requests and their nonces, per verified device (issuance signs with the CA key: the costly path). */
    certificateDevice(deviceId: string) {
      refuse(perDeviceCertificate.take(deviceId, Date.now()), `device ${deviceId} (certificate requests)`);
    },
  };
}

type RateCheck = ReturnType<typeof rateLimiting>;

async function route(opts: GatewayOptions & { answerKey: DeviceKey; instruments?: GatewayInstruments }, limits: RateCheck, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://gateway');
  const path = url.pathname;
  if (path === '/healthz') {
    allow(req, 'GET', 'HEAD');
    return sendJson(res, 200, { status: 'ok', version: opts.version });
  }
  if (path === '/metrics' && opts.instruments) {
    allow(req, 'GET');
    return opts.instruments.serve(res);
  }
  if (!path.startsWith('/v1/')) throw new HttpError(404, 'not-found', `no route for ${req.method} ${path}`);
  if (!opts.fleet || !opts.store) throw new HttpError(503, 'not-configured', 'this gateway runs without a fleet database and artifact store');
  const api: DeviceApiOptions = {
    fleet: opts.fleet,
    store: opts.store,
    insecureSharedToken: opts.insecureSharedToken,
    nonceTtlSeconds: opts.nonceTtlSeconds ?? 300,
    nextNonceTtlSeconds: nextNonceTtl(opts.pollAfterSeconds ?? 300, opts.nextNonceTtlSeconds),
    pollAfterSeconds: opts.pollAfterSeconds ?? 300,
    releasePolicy: opts.releasePolicy ?? 'newest',
    answerKey: opts.answerKey,
    attestation: opts.attestation,
    drift: opts.drift,
    onDemandDeltas: opts.onDemandDeltas,
    sigstoreTrustRoot: opts.sigstoreTrustRoot,
  };
  if (opts.deviceIdentity && (path === '/v1/certificates' || path === '/v1/certificates/nonce')) {
    allow(req, 'POST');
    limits.check(req, url);
    const ctx: CertificateContext = { fleet: opts.fleet, store: opts.store, attestation: opts.attestation, nonceTtlSeconds: api.nonceTtlSeconds, limitDevice: (id) => limits.certificateDevice(id) };
    return path === '/v1/certificates' ? issueCertificate(ctx, opts.deviceIdentity, req, res) : issueCertificateNonce(ctx, opts.deviceIdentity, req, res);
  }
  // Everything else but enrollment needs the device's client certificate when mTLS is on.
  if (opts.deviceIdentity && !OPEN_WITHOUT_CERTIFICATE.has(path)) {
    const certified = await requireClientCertificate(req, opts.fleet);
    api.certifiedDeviceId = certified.deviceId;
    api.certifiedDevice = certified.device;
    api.certifiedQuarantine = certified.quarantine;
  }
  const endpoint = DEVICE_ENDPOINTS.get(path);
  if (endpoint) {
    allow(req, endpoint.method);
    limits.check(req, url);
    if (api.certifiedQuarantine) assertQuarantineEndpoint(path);
    return endpoint.handle(api, url, req, res);
  }
  for (const [prefix, keyFromPath] of STORE_DOWNLOADS) {
    if (!path.startsWith(prefix)) continue;
    allow(req, 'GET', 'HEAD');
    const key = keyFromPath(path.slice(prefix.length));
    if (api.certifiedQuarantine) await assertQuarantineDownload(opts.fleet, opts.store, api.certifiedDeviceId!, key);
    return serveStoreObject(opts.store, key, req, res);
  }
  throw new HttpError(404, 'not-found', `no route for ${req.method} ${path}`);
}

export function handleRequest(opts: GatewayOptions) {
  const logError = opts.logError ?? ((error, req) => process.stderr.write(`ota gateway: ${req.method} ${req.url}: ${(error as Error)?.stack ?? String(error)}\n`));
  const limits = rateLimiting(opts.rateLimits ?? DEFAULT_RATE_LIMITS);
  const instruments = opts.metrics && gatewayInstruments(opts.metrics);
  const signed = { ...opts, answerKey: opts.answerKey ?? generateDeviceKey('ecdsa-p256-sha256'), instruments };
  return (req: IncomingMessage, res: ServerResponse): void => {
    instruments?.observe(req, res);
    route(signed, limits, req, res).catch((error: unknown) => {
      const httpError = error instanceof HttpError ? error : new HttpError(500, 'internal-error', 'the gateway failed to answer; see its log');
      noteOutcome(res, { outcome: httpError.code });
      if (!(error instanceof HttpError) || httpError.status >= 500) logError(error, req);
      if (res.headersSent) {
        res.destroy(); // mid-stream failure: cut the connection so the client sees a short body and resumes
        return;
      }
      sendError(res, httpError);
    });
  };
}

/** Idle device connections are kept this long by default: longer than a device's gap between its requests of one round. */
export const DEFAULT_KEEP_ALIVE_SECONDS = 120;

/**
 * The server's timeouts for a keep-alive of `keepAliveSeconds`: headers must arrive within
 * keepAlive + 5 s (always above keepAliveTimeout, so a reused connection is closed by the idle
 * timer, never mid-request by the headers timer) and at least 30 s; the whole request within
 * 60 s, or 5 s more than the headers. Pure.
 */
export function serverTimeouts(keepAliveSeconds: number): { keepAliveTimeout: number; headersTimeout: number; requestTimeout: number } {
  if (!Number.isInteger(keepAliveSeconds) || keepAliveSeconds < 1 || keepAliveSeconds > 3600) throw new Error(`keepAliveTimeoutSeconds must be a whole number of seconds from 1 to 3600, got ${keepAliveSeconds}`);
  const keepAliveTimeout = keepAliveSeconds * 1000;
  const headersTimeout = Math.max(30_000, keepAliveTimeout + 5_000);
  return { keepAliveTimeout, headersTimeout, requestTimeout: Math.max(60_000, headersTimeout + 5_000) };
}

/** Slack on top of the poll interval for a nextNonce: a device's clock, jitter and a slow round. */
export const NEXT_NONCE_SLACK_SECONDS = 600;
export const MAX_NEXT_NONCE_TTL_SECONDS = 86_400;

/** Node's session ticket key: 16 bytes of name, 16 of HMAC key, 16 of AES key. */
export const TICKET_KEY_BYTES = 48;

/**
 * The lifetime of a TLS session ticket: configured (1 s to a day), or the poll interval + the nonce
 * slack. Node's own default is 300 s, the default poll interval itself: with it, nearly every
 * polling device would come back to an expired session and a full handshake. Pure.
 */
export function tlsSessionLifetime(pollAfterSeconds: number, configured?: number): number {
  if (configured === undefined) return Math.min(MAX_NEXT_NONCE_TTL_SECONDS, pollAfterSeconds + NEXT_NONCE_SLACK_SECONDS);
  if (!Number.isInteger(configured) || configured < 1 || configured > MAX_NEXT_NONCE_TTL_SECONDS) {
    throw new Error(`tlsSessionSeconds must be a whole number of seconds from 1 to ${MAX_NEXT_NONCE_TTL_SECONDS}, got ${configured}`);
  }
  return configured;
}

/**
 * The lifetime of a check-in answer's nextNonce: configured, or pollAfter + NEXT_NONCE_SLACK_SECONDS
 * (held to a day). It must outlive the poll interval, or every device's next check-in would find it
 * expired and fall back to GET /v1/nonce. Pure; throws on a configured value that does not.
 */
export function nextNonceTtl(pollAfterSeconds: number, configured?: number): number {
  if (configured === undefined) return Math.min(MAX_NEXT_NONCE_TTL_SECONDS, pollAfterSeconds + NEXT_NONCE_SLACK_SECONDS);
  if (!Number.isInteger(configured) || configured <= pollAfterSeconds || configured > MAX_NEXT_NONCE_TTL_SECONDS) {
    throw new Error(`nextNonceTtlSeconds must be a whole number of seconds above pollAfterSeconds (${pollAfterSeconds}) and at most ${MAX_NEXT_NONCE_TTL_SECONDS}, got ${configured}`);
  }
  return configured;
}

export function startGateway(opts: GatewayOptions): Promise<RunningGateway> {
  if (opts.deviceIdentity && !opts.tls) throw new Error('mutual TLS (deviceIdentity) needs tls: a server key and certificate');
  nextNonceTtl(opts.pollAfterSeconds ?? 300, opts.nextNonceTtlSeconds); // a wrong setting fails at start, not per check-in
  // TLS 1.3 only; with mTLS the client certificate is asked for, checked against the fleet root by
  // OpenSSL, and judged per route (client-certificate.ts) so a refusal is a JSON error, not an alert.
  const mutual = opts.deviceIdentity && { requestCert: true, rejectUnauthorized: false, ca: opts.deviceIdentity.ca.root.certPem };
  const sessionTimeout = tlsSessionLifetime(opts.pollAfterSeconds ?? 300, opts.tlsSessionSeconds);
  const ticketKeys = opts.tls?.ticketKeys;
  if (ticketKeys && ticketKeys.length !== TICKET_KEY_BYTES) throw new Error(`the TLS ticket key must be ${TICKET_KEY_BYTES} bytes, got ${ticketKeys.length}`);
  const server = opts.tls
    ? createHttpsServer({ key: opts.tls.key, cert: opts.tls.cert, minVersion: 'TLSv1.3', sessionTimeout, ...(ticketKeys && { ticketKeys }), ...mutual }, handleRequest(opts))
    : createServer(handleRequest(opts));
  // Idle keep-alive connections are held for a polling device's next request (and closed at shutdown);
  // slow clients must not hold sockets forever.
  Object.assign(server, serverTimeouts(opts.keepAliveTimeoutSeconds ?? DEFAULT_KEEP_ALIVE_SECONDS));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve({
        server,
        url: `${opts.tls ? 'https' : 'http'}://${host}:${address.port}`,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((err) => (err ? fail(err) : done()));
            server.closeIdleConnections();
          }),
      });
    });
  });
}
