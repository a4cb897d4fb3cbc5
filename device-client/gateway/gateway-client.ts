// The device's HTTP client for the gateway's device API (schemas/device-api.ts): enrollment,
// nonces, signed check-ins, reports and heartbeats. Every answer is read with a byte limit enforced
// while it arrives and within one deadline for headers and body (a gateway that trickles bytes is a
// timeout, not a hang), then parsed with the contract's schemas. A network failure and an HTTP
// refusal are different errors, because the agent treats them differently (offline: try later;
// refused: the request itself is wrong).
import { z } from 'zod';
import { CodedError } from '../../platform/coded-error.js';
import { InputTooLargeError, readAtMost } from '../../platform/bounded-read.js';
import { describeZodIssues } from '../../platform/zod-issues.js';
import {
  apiErrorSchema,
  enrollResponseSchema,
  heartbeatResponseSchema,
  nonceResponseSchema,
  reportResponseSchema,
  type CheckinRequest,
  type CheckinResponse,
  type EnrollRequest,
  type EnrollResponse,
  type HealthReport,
  type HeartbeatResponse,
  type ReportResponse,
  type SignedEnvelope,
} from '../../schemas/device-api.js';
import { HeldNonces } from '../../platform/held-nonces.js';
import { signEnvelope, signPayload, type DeviceKey, type DeviceSigner } from '../../schemas/device-envelope.js';
import { certificateResponseSchema, type CertificateResponse } from '../../schemas/device-certificate.js';
import { UNTRUSTED_SERVER_CODES, type FetchLike } from '../../platform/tls-fetch.js';
import { readCheckinAnswer, type PinnedAnswerKey } from './answer-verification.js';

/** Largest answer the device reads for each call (docs/device-agent.md, "Limits"); one byte more is GATEWAY_ANSWER_TOO_LARGE. */
export const GATEWAY_ANSWER_LIMITS = {
  enrollBytes: 64 * 1024,
  nonceBytes: 4 * 1024,
  /** A check-in answer: an offer, hold or rollback order with its release reference. */
  checkinBytes: 256 * 1024,
  /** Report and heartbeat acknowledgements, and error bodies. */
  ackBytes: 16 * 1024,
  /** getBytes (a manifest, a signature bundle) unless the caller says otherwise. */
  documentBytes: 4 * 1024 * 1024,
} as const;

/** The range a gateway's pollAfterSeconds is held to: above a week would overflow a timer (2^31 ms is 24.8 days) into a tight loop. */
export const POLL_AFTER_LIMITS = { minSeconds: 1, maxSeconds: 7 * 86_400 } as const;

/** A gateway's pollAfterSeconds held to POLL_AFTER_LIMITS (non-finite: the maximum). Pure. */
export function clampPollAfterSeconds(seconds: number): number {
  if (!Number.isFinite(seconds)) return POLL_AFTER_LIMITS.maxSeconds;
  return Math.min(POLL_AFTER_LIMITS.maxSeconds, Math.max(POLL_AFTER_LIMITS.minSeconds, Math.round(seconds)));
}

export type GatewayUnreachableCode = 'GATEWAY_UNREACHABLE' | 'GATEWAY_TIMEOUT' | 'GATEWAY_CERTIFICATE_UNTRUSTED';

/**
 * The gateway could not be reached (connection refused, reset), did not answer in time
 * (GATEWAY_TIMEOUT), or its server certificate is not issued by the pinned fleet CA for this name
 * (GATEWAY_CERTIFICATE_UNTRUSTED: nothing was sent past the handshake).
 */
export class GatewayUnreachableError extends CodedError<GatewayUnreachableCode> {
  constructor(message: string, code: GatewayUnreachableCode = 'GATEWAY_UNREACHABLE') {
    super(code, message);
  }
}

/** An answer longer than its limit (declared or while streaming): refused before it is parsed. */
export class GatewayAnswerTooLargeError extends CodedError<'GATEWAY_ANSWER_TOO_LARGE'> {
  constructor(message: string) {
    super('GATEWAY_ANSWER_TOO_LARGE', message);
  }
}

/** An answer that is not JSON, or not of the device API's schema. */
export class GatewayAnswerMalformedError extends CodedError<'GATEWAY_ANSWER_MALFORMED'> {
  constructor(message: string) {
    super('GATEWAY_ANSWER_MALFORMED', message);
  }
}

/** The gateway answered with an error status ({error, detail}). */
export class GatewayRefusedError extends Error {
  override name = 'GatewayRefusedError';
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    what: string,
  ) {
    super(`${what}: gateway answered ${status} ${code}: ${detail}`);
  }
}

export interface GatewayClientOptions {
  /** Per-request timeout for API calls (downloads have their own stall timeout). */
  timeoutMs?: number;
  /** How requests travel; default global fetch. The agent passes tlsFetch with the pinned fleet CA and its certificate. */
  fetch?: FetchLike;
  /** Where a check-in answer's nextNonce waits for the next check-in; default the process-wide heldNonces. */
  nonces?: HeldNonces;
}

export const heldNonces = new HeldNonces();

/** The gateway refused the check-in's nonce as spent, expired or unknown: nothing changed, a fresh one may be tried. */
function isRefusedNonce(error: unknown): boolean {
  return error instanceof GatewayRefusedError && error.status === 409 && /^nonce-(used|expired|unknown)$/.test(error.code);
}

export class GatewayClient {
  readonly baseUrl: string;
  /** What every request of this client (downloads included) goes through. */
  readonly fetch: FetchLike;
  private readonly timeoutMs: number;
  private readonly nonces: HeldNonces;

  constructor(baseUrl: string, options: GatewayClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.nonces = options.nonces ?? heldNonces;
    this.fetch = options.fetch ?? ((url, init) => fetch(url, init));
  }

  /** A gateway path ("/v1/...") or absolute URL as an absolute URL. */
  resolve(pathOrUrl: string): string {
    return /^https?:\/\//.test(pathOrUrl) ? pathOrUrl : `${this.baseUrl}${pathOrUrl.startsWith('/') ? '' : '/'}${pathOrUrl}`;
  }

  /** token: a per-device enrollment token, if the device has one (preauthorized and factory-identity devices need none). */
  async enroll(token: string | undefined, request: EnrollRequest): Promise<EnrollResponse> {
    return this.json('enroll', 'POST', '/v1/enroll', enrollResponseSchema, GATEWAY_ANSWER_LIMITS.enrollBytes, request, token === undefined ? {} : { authorization: `Bearer ${token}` });
  }

  async nonce(deviceId: string): Promise<string> {
    const res = await this.json('nonce', 'GET', `/v1/nonce?device=${encodeURIComponent(deviceId)}`, nonceResponseSchema, GATEWAY_ANSWER_LIMITS.nonceBytes);
    return res.nonce;
  }

  /**
   * Signs the check-in over the nonce the last check-in answer handed out (nextNonce), or over a
   * fresh one from GET /v1/nonce when none is held, and posts it; a held nonce refused as used,
   * expired or unknown (nothing changed at the gateway) is replaced by a fresh one once. With
   * `answerKey` (the pinned gateway answer key) only an answer signed by it for this device and
   * this nonce is returned, and only its signed nextNonce kept; otherwise GatewayAnswerRefusedError
   * (answer-verification.ts).
   */
  async checkin(key: DeviceSigner, body: Omit<CheckinRequest, 'nonce' | 'sentAt' | 'acceptsNextNonce'>, answerKey?: PinnedAnswerKey): Promise<CheckinResponse> {
    const held = this.nonces.take(this.baseUrl, body.deviceId);
    try {
      return await this.checkinOver(held ?? (await this.nonce(body.deviceId)), key, body, answerKey);
    } catch (error) {
      if (!held || !isRefusedNonce(error)) throw error;
      return this.checkinOver(await this.nonce(body.deviceId), key, body, answerKey);
    }
  }

  private async checkinOver(nonce: string, key: DeviceSigner, body: Omit<CheckinRequest, 'nonce' | 'sentAt' | 'acceptsNextNonce'>, answerKey: PinnedAnswerKey | undefined, ask = !this.nonces.isOlderGateway(this.baseUrl)): Promise<CheckinResponse> {
    const payload: CheckinRequest = { ...body, nonce, sentAt: new Date().toISOString(), ...(ask && { acceptsNextNonce: true as const }) };
    let doc: unknown;
    try {
      doc = await this.json('check-in', 'POST', '/v1/checkin', z.unknown(), GATEWAY_ANSWER_LIMITS.checkinBytes, await signEnvelope(payload, key));
    } catch (error) {
      // A gateway from before nextNonce refuses the field before it spends the nonce: ask it the old way from now on.
      if (!ask || !(error instanceof GatewayRefusedError) || error.status !== 400 || error.code !== 'invalid-payload' || !error.detail.includes('acceptsNextNonce')) throw error;
      this.nonces.markOlderGateway(this.baseUrl);
      return this.checkinOver(nonce, key, body, answerKey, false);
    }
    const read = readCheckinAnswer(doc, answerKey, { deviceId: payload.deviceId, nonce: payload.nonce });
    if (!read.ok && 'refused' in read) throw read.refused;
    if (!read.ok) throw new GatewayAnswerMalformedError(`check-in: the gateway's answer does not match the device API: ${read.malformed}`);
    if (read.nextNonce) this.nonces.keep(this.baseUrl, payload.deviceId, read.nextNonce);
    return { ...read.answer, pollAfterSeconds: clampPollAfterSeconds(read.answer.pollAfterSeconds) };
  }

  /** A client certificate for the device's own key: the CSR signed over in an envelope by that key (also when the old one expired). */
  async requestCertificate(key: DeviceKey, deviceId: string, csrPem: string): Promise<CertificateResponse> {
    const envelope = signPayload({ type: 'certificate-request', deviceId, csrPem, sentAt: new Date().toISOString() }, key);
    return this.json('certificate', 'POST', '/v1/certificates', certificateResponseSchema, GATEWAY_ANSWER_LIMITS.enrollBytes, envelope);
  }

  /** POST /v1/certificates with a request the caller signed (a TPM-held key, evidence attached). */
  async requestCertificateSigned(envelope: SignedEnvelope): Promise<CertificateResponse> {
    return this.json('certificate', 'POST', '/v1/certificates', certificateResponseSchema, GATEWAY_ANSWER_LIMITS.enrollBytes, envelope);
  }

  /** A nonce without a client certificate (POST /v1/certificates/nonce, signed by the enrolled key): for the evidence of a certificate request. */
  async certificateNonce(signer: DeviceSigner, deviceId: string): Promise<string> {
    const envelope = await signEnvelope({ type: 'certificate-nonce', deviceId, sentAt: new Date().toISOString() }, signer);
    return (await this.json('certificate nonce', 'POST', '/v1/certificates/nonce', nonceResponseSchema, GATEWAY_ANSWER_LIMITS.nonceBytes, envelope)).nonce;
  }

  async postReport(envelope: SignedEnvelope, counter: HealthReport['counter']): Promise<ReportResponse> {
    return this.json(`report ${counter}`, 'POST', '/v1/reports', reportResponseSchema, GATEWAY_ANSWER_LIMITS.ackBytes, envelope);
  }

  async postHeartbeat(envelope: SignedEnvelope, counter: number): Promise<HeartbeatResponse> {
    return this.json(`heartbeat ${counter}`, 'POST', '/v1/heartbeats', heartbeatResponseSchema, GATEWAY_ANSWER_LIMITS.ackBytes, envelope);
  }

  /** A signed envelope to another device endpoint (attestation), its small answer read against `schema`. */
  async postSigned<S extends z.ZodType>(what: string, path: string, schema: S, envelope: SignedEnvelope): Promise<z.infer<S>> {
    return this.json(what, 'POST', path, schema, GATEWAY_ANSWER_LIMITS.ackBytes, envelope);
  }

  /** GET of a small document (manifest, bundle) as bytes, bounded so a gateway cannot flood memory. */
  async getBytes(pathOrUrl: string, maxBytes: number = GATEWAY_ANSWER_LIMITS.documentBytes): Promise<Buffer> {
    const url = this.resolve(pathOrUrl);
    const res = await this.request(url, { method: 'GET' });
    if (!res.ok) throw await refusal(res, `GET ${url}`);
    return readAnswer(res, maxBytes, `GET ${url}`);
  }

  private async json<S extends z.ZodType>(what: string, method: string, path: string, schema: S, limit: number, body?: unknown, headers: Record<string, string> = {}): Promise<z.infer<S>> {
    const res = await this.request(this.resolve(path), {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw await refusal(res, what);
    const text = (await readAnswer(res, limit, what)).toString('utf8');
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new GatewayAnswerMalformedError(`${what}: the gateway's answer is not JSON`);
    }
    const parsed = schema.safeParse(doc);
    if (!parsed.success) throw new GatewayAnswerMalformedError(`${what}: the gateway's answer does not match the device API: ${describeZodIssues(parsed.error)}`);
    return parsed.data;
  }

  private async request(url: string, init: RequestInit): Promise<Response> {
    try {
      return await this.fetch(url, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (error) {
      const code = isTimeout(error) ? 'GATEWAY_TIMEOUT' : isUntrustedServer(error) ? 'GATEWAY_CERTIFICATE_UNTRUSTED' : 'GATEWAY_UNREACHABLE';
      throw new GatewayUnreachableError(`${init.method ?? 'GET'} ${url}: ${describeFetchError(error)}`, code);
    }
  }
}

const isTimeout = (error: unknown) => (error as Error)?.name === 'TimeoutError';
const isUntrustedServer = (error: unknown) => UNTRUSTED_SERVER_CODES.has(String((error as { cause?: { code?: string } })?.cause?.code));

/**
 * The body, at most `limit` bytes: a declared length over it is refused before reading, an endless
 * body at the limit; the request's deadline (its AbortSignal.timeout) also ends a trickling body.
 */
async function readAnswer(res: Response, limit: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    await res.body?.cancel().catch(() => undefined);
    throw new GatewayAnswerTooLargeError(`${what}: the gateway's answer is ${declared} bytes, more than the ${limit} allowed`);
  }
  if (!res.body) return Buffer.alloc(0);
  try {
    return await readAtMost(res.body as unknown as AsyncIterable<Uint8Array>, limit, `${what}: the gateway's answer`);
  } catch (error) {
    if (error instanceof InputTooLargeError) {
      await res.body?.cancel().catch(() => undefined);
      throw new GatewayAnswerTooLargeError(error.message);
    }
    if (isTimeout(error)) throw new GatewayUnreachableError(`${what}: the gateway's answer did not arrive in time (slow retrieval)`, 'GATEWAY_TIMEOUT');
    throw new GatewayUnreachableError(`${what}: the answer was cut: ${describeFetchError(error)}`);
  }
}

async function refusal(res: Response, what: string): Promise<GatewayRefusedError> {
  const text = (await readAnswer(res, GATEWAY_ANSWER_LIMITS.ackBytes, what).catch(() => Buffer.alloc(0))).toString('utf8');
  let parsed: { error: string; detail: string } | undefined;
  try {
    const result = apiErrorSchema.safeParse(JSON.parse(text));
    if (result.success) parsed = result.data;
  } catch {
    // not JSON: keep the raw text
  }
  return new GatewayRefusedError(res.status, parsed?.error ?? 'http-error', parsed?.detail ?? text.slice(0, 200), what);
}

/** fetch hides the socket error in `cause`; show it (ECONNREFUSED says more than "fetch failed"). */
export function describeFetchError(error: unknown): string {
  const e = error as Error & { cause?: Error & { code?: string } };
  if (e?.name === 'TimeoutError') return 'timed out';
  const cause = e?.cause;
  return cause ? `${e.message} (${cause.code ?? cause.message})` : String(e?.message ?? error);
}
