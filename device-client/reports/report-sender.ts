// Sends the queued reports to the gateway in counter order: for each, a fresh nonce, a signature
// over the report with its counter and nonce, then POST /v1/reports. A report leaves the queue only
// when the gateway answered for it:
//   200 accepted                       stored: ack
//   409 stale-counter                  the gateway already holds this counter or a later one (our
//                                      earlier send got through but its answer was lost): ack
//   400 invalid-*                      can never be accepted: appended to rejected.log, then ack
// Anything else (network down, 5xx, 401, 403, nonce trouble twice) stops the flush; the report
// stays queued for the next attempt.
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HealthReport } from '../../schemas/device-api.js';
import type { DeviceKey } from './device-key.js';
import { signPayload } from './envelope.js';
import type { ReportQueue } from './report-queue.js';

export interface SendOptions {
  gatewayUrl: string;
  deviceId: string;
  key: DeviceKey;
  fetchImpl?: typeof fetch;
  /** Per-request timeout (default 15 s): a stalled link must not hold the agent forever. */
  timeoutMs?: number;
}

export interface FlushResult {
  sent: number;
  rejected: number;
  remaining: number;
  /** Why the flush stopped early, if it did. */
  stoppedBy?: string;
}

async function getNonce(opts: SendOptions, fetchImpl: typeof fetch): Promise<string> {
  const res = await fetchImpl(new URL(`/v1/nonce?device=${encodeURIComponent(opts.deviceId)}`, opts.gatewayUrl), { signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000) });
  const body = (await res.json()) as { nonce?: string; error?: string; detail?: string };
  if (!res.ok || !body.nonce) throw new Error(`nonce: ${res.status} ${body.error ?? ''} ${body.detail ?? ''}`.trim());
  return body.nonce;
}

export async function flushReports(queue: ReportQueue, opts: SendOptions): Promise<FlushResult> {
  const fetchImpl = opts.fetchImpl ?? fetch;
  const result: FlushResult = { sent: 0, rejected: 0, remaining: queue.pending().length };
  for (const entry of queue.pending()) {
    let answer: { status: number; error?: string; detail?: string } | undefined;
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const nonce = await getNonce(opts, fetchImpl);
        const report: HealthReport = { ...entry.report, counter: entry.counter, nonce };
        const res = await fetchImpl(new URL('/v1/reports', opts.gatewayUrl), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(signPayload(report, opts.key)),
          signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000),
        });
        const body = (await res.json().catch(() => ({}))) as { error?: string; detail?: string };
        // The success body has its own `status` field; the HTTP status must win.
        answer = { error: body.error, detail: body.detail, status: res.status };
        // A nonce that expired between fetching and sending: one more try with a fresh one.
        if (!(res.status === 409 && body.error?.startsWith('nonce-'))) break;
      }
    } catch (error) {
      return { ...result, stoppedBy: `gateway unreachable: ${(error as Error).message}` };
    }
    if (answer!.status === 200 || (answer!.status === 409 && answer!.error === 'stale-counter')) {
      await queue.ack(entry.counter);
      result.sent++;
    } else if (answer!.status === 400) {
      await appendFile(join(queue.dir, 'rejected.log'), `${JSON.stringify({ ...entry, rejection: answer })}\n`);
      await queue.ack(entry.counter);
      result.rejected++;
    } else {
      return { ...result, remaining: queue.pending().length, stoppedBy: `${answer!.status} ${answer!.error ?? ''}: ${answer!.detail ?? ''}` };
    }
    result.remaining = queue.pending().length;
  }
  return result;
}
