// Sends queued reports in counter order. Each send fetches a fresh nonce and signs the report with
// its fixed counter and that nonce, so a captured report cannot be replayed (the nonce is single
// use) and a resent one cannot be confused with a new one (the counter is fixed when the report
// is created). A report leaves the queue only when the gateway answered for it:
//   200 accepted                          removed
//   409 stale-counter                     it already has this counter (our earlier send got through
//                                         but the answer was lost): removed as a duplicate
//   409 nonce-*                           signed again over a fresh nonce (twice), then left for later
//   400 (malformed/invalid), 401 bad-signature   can never be accepted: moved to the dead-letter folder
// Anything else (offline, 5xx, 403 unknown/revoked device) stops the flush at that report; the rest
// waits in order for the next flush.
import { describeZodIssues } from '../../platform/zod-issues.js';
import { healthReportSchema, type HealthReportBody } from '../../schemas/device-api.js';
import { signEnvelope, type DeviceSigner } from '../../schemas/device-envelope.js';
import { GatewayRefusedError, GatewayUnreachableError, type GatewayClient } from '../gateway/gateway-client.js';
import type { ReportQueue } from './queue.js';

export interface FlushResult {
  /** Counters the gateway accepted now. */
  sent: number[];
  /** Counters it already had (a resend after a lost acknowledgement): dropped from the queue. */
  duplicates: number[];
  /** Counters moved to the dead-letter folder, with why. */
  deadLettered: Array<{ counter: number; reason: string }>;
  /** Still queued. */
  remaining: number;
  /** Why sending stopped early, if it did (offline, gateway error, device revoked). */
  stopped?: string;
}

/** Refusals that are about the report itself: resending the same bytes can never succeed. Any 400 is one too. */
const POISON = new Set(['invalid-envelope', 'malformed-payload', 'invalid-payload', 'bad-signature', 'malformed-json', 'body-too-large']);
const NONCE_RETRIES = 2;

export async function flushReports(queue: ReportQueue, client: GatewayClient, key: DeviceSigner, log: (line: string) => void = () => undefined): Promise<FlushResult> {
  const result: FlushResult = { sent: [], duplicates: [], deadLettered: [], remaining: 0 };
  const pending = await queue.pending();
  let index = 0;
  try {
    for (; index < pending.length; index++) {
      const queued = pending[index]!;
      const outcome = await sendOne(client, key, queued.counter, queued.body);
      if (outcome.kind === 'accepted') {
        await queue.ack(queued.counter);
        result.sent.push(queued.counter);
      } else if (outcome.kind === 'duplicate') {
        await queue.ack(queued.counter);
        result.duplicates.push(queued.counter);
      } else if (outcome.kind === 'poison') {
        await queue.deadLetter(queued, outcome.refusal);
        result.deadLettered.push({ counter: queued.counter, reason: `${outcome.refusal.code}: ${outcome.refusal.detail}` });
        log(`report ${queued.counter} refused for good (${outcome.refusal.code}); moved to ${queue.deadDir}`);
      }
    }
  } catch (error) {
    result.stopped = error instanceof GatewayUnreachableError ? `gateway unreachable: ${error.message}` : (error as Error).message;
  }
  result.remaining = pending.length - result.sent.length - result.duplicates.length - result.deadLettered.length;
  return result;
}

type SendOutcome = { kind: 'accepted' } | { kind: 'duplicate' } | { kind: 'poison'; refusal: { status: number; code: string; detail: string } };

async function sendOne(client: GatewayClient, key: DeviceSigner, counter: number, body: HealthReportBody): Promise<SendOutcome> {
  for (let attempt = 0; ; attempt++) {
    const report = { ...body, counter, nonce: await client.nonce(body.deviceId) };
    const checked = healthReportSchema.safeParse(report);
    if (!checked.success) {
      // Cannot happen for reports this agent built; never block the queue on one if it does.
      return { kind: 'poison', refusal: { status: 0, code: 'invalid-locally', detail: describeZodIssues(checked.error) } };
    }
    try {
      await client.postReport(await signEnvelope(checked.data, key), counter);
      return { kind: 'accepted' };
    } catch (error) {
      if (!(error instanceof GatewayRefusedError)) throw error;
      if (error.code === 'stale-counter') return { kind: 'duplicate' };
      if (error.code.startsWith('nonce-') && attempt < NONCE_RETRIES) continue; // expired or raced: sign again over a fresh one
      if (error.status === 400 || POISON.has(error.code)) return { kind: 'poison', refusal: { status: error.status, code: error.code, detail: error.detail } };
      throw error; // unknown device, revoked, 5xx: not this report's fault; keep it queued
    }
  }
}
