// A fetch over node:https with a pinned CA and, optionally, a client certificate: what global fetch
// cannot do on Node 20 without the undici package. It answers a standard Response, so callers that
// read `fetch` answers (bounded reads, Range downloads) read these the same way. Connections are kept
// alive and TLS sessions resumed per identity; a new identity (a renewed certificate) gets a new agent.
import { Agent, request } from 'node:https';
import { createSecureContext } from 'node:tls';
import { Readable } from 'node:stream';

export type FetchLike = (url: string, init?: RequestInit) => Promise<Response>;

export interface TlsIdentity {
  /** The only CA the server's chain may end in (PEM). */
  ca: string;
  /** Client certificate chain (leaf first) and its key (PEM), for mutual TLS. */
  cert?: string;
  key?: string;
}

export interface TlsFetchOptions {
  /** Reuse TLS sessions (tickets) across connections; default true. Off: a full handshake every time. */
  sessionResumption?: boolean;
  /** Keep connections open between requests; default true. */
  keepAlive?: boolean;
}

const NO_BODY_STATUS = new Set([101, 204, 205, 304]);

function headerRecord(headers: RequestInit['headers']): Record<string, string> {
  return Object.fromEntries(new Headers(headers).entries());
}

/** `identity` is read per request (cheap), so a certificate renewed on disk is used from the next request. */
export function tlsFetch(identity: () => TlsIdentity | Promise<TlsIdentity>, options: TlsFetchOptions = {}): FetchLike {
  let current: { id: string; agent: Agent } | undefined;
  const agentFor = (tls: TlsIdentity): Agent => {
    const id = `${tls.ca}\0${tls.cert ?? ''}\0${tls.key ?? ''}`;
    if (current?.id === id) return current.agent;
    current?.agent.destroy();
    const agent = new Agent({
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      minVersion: 'TLSv1.3',
      // Made once per identity: without it every new connection parses the CA, certificate and key again.
      secureContext: createSecureContext({ ca: tls.ca, cert: tls.cert, key: tls.key, minVersion: 'TLSv1.3' }),
      keepAlive: options.keepAlive ?? true,
      maxCachedSessions: options.sessionResumption === false ? 0 : 100,
    });
    current = { id, agent };
    return agent;
  };
  return async (url, init = {}) => {
    const target = new URL(url);
    if (target.protocol !== 'https:') throw new TypeError('fetch failed', { cause: Object.assign(new Error(`${target.protocol} is not https:`), { code: 'ERR_PLAIN_HTTP' }) });
    const agent = agentFor(await identity());
    init.signal?.throwIfAborted();
    try {
      return await once(target, init, agent);
    } catch (error) {
      // A kept-alive socket the server closed just as we reused it: once more on a new connection (the
      // request never reached the server's handler, so repeating it is safe).
      if (!(error instanceof StaleSocketError)) throw error;
      return once(target, init, agent);
    }
  };
}

class StaleSocketError extends Error {}

function once(target: URL, init: RequestInit, agent: Agent): Promise<Response> {
  const signal = init.signal ?? undefined;
  return new Promise<Response>((resolve, reject) => {
    const req = request(target, { method: init.method ?? 'GET', headers: headerRecord(init.headers), agent }, (res) => {
      const abortBody = () => res.destroy(signal?.reason as Error);
      signal?.addEventListener('abort', abortBody, { once: true });
      res.once('close', () => signal?.removeEventListener('abort', abortBody));
      const headers = new Headers();
      for (const [name, value] of Object.entries(res.headers)) {
        for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, v);
      }
      const status = res.statusCode ?? 500;
      const body = NO_BODY_STATUS.has(status) ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
      if (!body) res.resume();
      resolve(new Response(body, { status, statusText: res.statusMessage, headers }));
    });
    const abortRequest = () => {
      req.destroy(signal?.reason as Error);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', abortRequest, { once: true });
    req.once('response', () => signal?.removeEventListener('abort', abortRequest));
    req.once('error', (error: NodeJS.ErrnoException) => {
      signal?.removeEventListener('abort', abortRequest);
      if (signal?.aborted) return reject(signal.reason);
      if (req.reusedSocket && (error.code === 'ECONNRESET' || error.code === 'EPIPE')) return reject(new StaleSocketError(error.message));
      reject(new TypeError(`fetch failed: ${error.code ?? error.message}`, { cause: error }));
    });
    if (typeof init.body === 'string' || init.body instanceof Uint8Array) req.end(init.body);
    else req.end();
  });
}

/** OpenSSL's codes for a server certificate that does not chain to the pinned CA or does not name the host. */
export const UNTRUSTED_SERVER_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
