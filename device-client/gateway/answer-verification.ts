// Reading a check-in answer (docs/device-agent.md, "Signed answers"). With a pinned gateway answer
// key the device acts only on the signed copy in `signedAnswer`, and only when it is signed by that
// key and bound to this device and to the nonce this check-in was signed over; anything else is
// refused with its own code before the answer is acted on. Without a pinned key: the plain answer
// (the envelope, if any, is ignored), as before signing existed. The keys may also come from the
// device's TUF trust (trust/device-trust.ts, stored after each verified walk by
// device-client/agent/gateway-trust.ts): then any listed key may sign (a rotation overlaps), and an
// answer no listed key signed is GATEWAY_ANSWER_KEY_NOT_LISTED.
import { createPublicKey } from 'node:crypto';
import { CodedError } from '../../platform/coded-error.js';
import { describeZodIssues } from '../../platform/zod-issues.js';
import { checkinAnswerPayloadSchema, checkinResponseSchema, nonceResponseSchema, signedAnswerEnvelopeSchema, type CheckinResponse, type KeyAlgorithm, type NonceResponse } from '../../schemas/device-api.js';
import { algorithmOf, envelopePayloadBytes, verifyEnvelope } from '../../schemas/device-envelope.js';

export type AnswerRefusalCode = 'GATEWAY_ANSWER_UNSIGNED' | 'GATEWAY_ANSWER_BAD_SIGNATURE' | 'GATEWAY_ANSWER_MISBOUND' | 'GATEWAY_ANSWER_REPLAYED' | 'GATEWAY_ANSWER_KEY_NOT_LISTED';

/** A check-in answer the pinned gateway key does not vouch for, for this device and this request. */
export class GatewayAnswerRefusedError extends CodedError<AnswerRefusalCode> {}

/** One answer key, as the device pins it from a provisioned file. */
export interface AnswerKey {
  publicKeyPem: string;
  keyAlgorithm: KeyAlgorithm;
}

export function pinnedAnswerKey(publicKeyPem: string): AnswerKey {
  return { publicKeyPem, keyAlgorithm: algorithmOf(createPublicKey(publicKeyPem)) };
}

/** The answer keys the device's verified TUF targets list (edge-ota.device-trust.v1), with the version that listed them. */
export interface ListedAnswerKeys {
  listed: AnswerKey[];
  targetsVersion: number;
}

/**
 * What may sign the answers a device acts on: its one pinned key, or the keys its verified TUF targets
 * list (device-client/agent/trust-precedence.ts chooses). The name is the one GatewayClient.checkin takes.
 */
export type PinnedAnswerKey = AnswerKey | ListedAnswerKeys;

export function listedAnswerKeys(publicKeyPems: string[], targetsVersion: number): ListedAnswerKeys {
  return { listed: publicKeyPems.map(pinnedAnswerKey), targetsVersion };
}

/** nextNonce: the nonce for the device's next check-in, when it asked (acceptsNextNonce); with a pinned key, only the signed one. */
export type AnswerReading = { ok: true; answer: CheckinResponse; nextNonce?: NonceResponse } | { ok: false; malformed: string } | { ok: false; refused: GatewayAnswerRefusedError };

/** The answer to act on from a parsed answer body. Pure. */
export function readCheckinAnswer(doc: unknown, pinned: PinnedAnswerKey | undefined, bound: { deviceId: string; nonce: string }): AnswerReading {
  const { signedAnswer, nextNonce, ...plain } = (doc !== null && typeof doc === 'object' ? doc : {}) as Record<string, unknown>;
  if (!pinned) {
    const parsed = checkinResponseSchema.safeParse(plain);
    const next = nextNonce === undefined ? undefined : nonceResponseSchema.safeParse(nextNonce);
    if (next && !next.success) return { ok: false, malformed: `nextNonce: ${describeZodIssues(next.error)}` };
    return parsed.success ? { ok: true, answer: parsed.data, ...(next && { nextNonce: next.data }) } : { ok: false, malformed: describeZodIssues(parsed.error) };
  }
  const refuse = (code: AnswerRefusalCode, message: string): AnswerReading => ({ ok: false, refused: new GatewayAnswerRefusedError(code, `check-in answer refused: ${message}`) });
  if (signedAnswer === undefined) return refuse('GATEWAY_ANSWER_UNSIGNED', 'it carries no signature and this device pins a gateway answer key');
  const envelope = signedAnswerEnvelopeSchema.safeParse(signedAnswer);
  if ('listed' in pinned) {
    // Keys from TUF: the envelope names no key, so a valid signature by a key not listed reads as no listed key's.
    if (!envelope.success || !pinned.listed.some((key) => verifyEnvelope(envelope.data, key))) {
      return refuse('GATEWAY_ANSWER_KEY_NOT_LISTED', `it is not signed by a gateway answer key that TUF targets version ${pinned.targetsVersion} lists`);
    }
  } else if (!envelope.success || !verifyEnvelope(envelope.data, pinned)) return refuse('GATEWAY_ANSWER_BAD_SIGNATURE', 'its signature does not verify with the pinned gateway answer key');
  let payload: unknown;
  try {
    payload = JSON.parse(envelopePayloadBytes(envelope.data).toString('utf8'));
  } catch {
    return { ok: false, malformed: 'the signed answer is not JSON' };
  }
  const signed = checkinAnswerPayloadSchema.safeParse(payload);
  if (!signed.success) return { ok: false, malformed: `the signed answer: ${describeZodIssues(signed.error)}` };
  if (signed.data.deviceId !== bound.deviceId) return refuse('GATEWAY_ANSWER_MISBOUND', `it was signed for device ${signed.data.deviceId}, not ${bound.deviceId}`);
  if (signed.data.nonce !== bound.nonce) return refuse('GATEWAY_ANSWER_REPLAYED', "it was signed for another check-in's nonce (a recorded answer)");
  return { ok: true, answer: signed.data.answer, ...(signed.data.nextNonce && { nextNonce: signed.data.nextNonce }) };
}
