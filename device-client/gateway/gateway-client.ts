// The device's HTTP client for the gateway's device API (schemas/device-api.ts): enrollment,
// nonces, signed check-ins, reports and heartbeats. Every answer is parsed with the contract's schemas; a
// network failure and an HTTP refusal are different errors, because the agent treats them
// differently (offline: try later; refused: the request itself is wrong).
import type { z } from 'zod';
import { describeZodIssues } from '../../platform/zod-issues.js';
import {
  apiErrorSchema,
  checkinResponseSchema,
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
import { signPayload, type DeviceKey } from '../../schemas/device-envelope.js';

/** The gateway could not be reached (connection refused, reset, timeout). */
export class GatewayUnreachableError extends Error {
  override name = 'GatewayUnreachableError';
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
}

export class GatewayClient {
  readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(baseUrl: string, options: GatewayClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** A gateway path ("/v1/...") or absolute URL as an absolute URL. */
  resolve(pathOrUrl: string): string {
    return /^https?:\/\//.test(pathOrUrl) ? pathOrUrl : `${this.baseUrl}${pathOrUrl.startsWith('/') ? '' : '/'}${pathOrUrl}`;
  }

  async enroll(token: string, request: EnrollRequest): Promise<EnrollResponse> {
    return this.json('enroll', 'POST', '/v1/enroll', enrollResponseSchema, request, { authorization: `Bearer ${token}` });
  }

  async nonce(deviceId: string): Promise<string> {
    const res = await this.json('nonce', 'GET', `/v1/nonce?device=${encodeURIComponent(deviceId)}`, nonceResponseSchema);
    return res.nonce;
  }

  /** Fetches a fresh nonce, signs the check-in over it and posts it. */
  async checkin(key: DeviceKey, body: Omit<CheckinRequest, 'nonce' | 'sentAt'>): Promise<CheckinResponse> {
    const payload: CheckinRequest = { ...body, nonce: await this.nonce(body.deviceId), sentAt: new Date().toISOString() };
    return this.json('check-in', 'POST', '/v1/checkin', checkinResponseSchema, signPayload(payload, key));
  }

  async postReport(envelope: SignedEnvelope, counter: HealthReport['counter']): Promise<ReportResponse> {
    return this.json(`report ${counter}`, 'POST', '/v1/reports', reportResponseSchema, envelope);
  }

  async postHeartbeat(envelope: SignedEnvelope, counter: number): Promise<HeartbeatResponse> {
    return this.json(`heartbeat ${counter}`, 'POST', '/v1/heartbeats', heartbeatResponseSchema, envelope);
  }

  /** GET of a small document (manifest, bundle) as bytes, bounded so a gateway cannot flood memory. */
  async getBytes(pathOrUrl: string, maxBytes = 4 * 1024 * 1024): Promise<Buffer> {
    const url = this.resolve(pathOrUrl);
    const res = await this.request(url, { method: 'GET' });
    if (!res.ok) throw await refusal(res, `GET ${url}`);
    const declared = Number(res.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > maxBytes) {
      await res.body?.cancel();
      throw new Error(`GET ${url}: ${declared} bytes is more than the ${maxBytes} a document may have`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body ?? []) {
      size += (chunk as Uint8Array).length;
      if (size > maxBytes) throw new Error(`GET ${url}: more than the ${maxBytes} bytes a document may have`);
      chunks.push(Buffer.from(chunk as Uint8Array));
    }
    return Buffer.concat(chunks);
  }

  private async json<S extends z.ZodType>(what: string, method: string, path: string, schema: S, body?: unknown, headers: Record<string, string> = {}): Promise<z.infer<S>> {
    const res = await this.request(this.resolve(path), {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw await refusal(res, what);
    const text = await res.text();
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new Error(`${what}: the gateway's answer is not JSON`);
    }
    const parsed = schema.safeParse(doc);
    if (!parsed.success) throw new Error(`${what}: the gateway's answer does not match the device API: ${describeZodIssues(parsed.error)}`);
    return parsed.data;
  }

  private async request(url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (error) {
      throw new GatewayUnreachableError(`${init.method ?? 'GET'} ${url}: ${describeFetchError(error)}`);
    }
  }
}

async function refusal(res: Response, what: string): Promise<GatewayRefusedError> {
  const text = await res.text().catch(() => '');
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
