// The gateway's signature on every check-in answer (docs/device-api.md, "Signed answers"): the
// answer travels as before, plus `signedAnswer`, an envelope over {answer, deviceId, the check-in's
// nonce, issuedAt} made with the gateway answer key. A device that pins that key acts only on the
// signed copy, so a fake gateway cannot order it about and a recorded answer fits no other request.
import type { CheckinAnswerPayload, CheckinResponse, NonceResponse, SignedEnvelope } from '../schemas/device-api.js';
import { signPayload, type DeviceKey } from '../schemas/device-envelope.js';

export type SignedCheckinAnswer = CheckinResponse & { signedAnswer: SignedEnvelope; nextNonce?: NonceResponse };

/** `nextNonce` (when the check-in asked for one) is signed with the answer and also given beside it. */
export function signCheckinAnswer(key: DeviceKey, answer: CheckinResponse, bound: { deviceId: string; nonce: string }, now = new Date(), nextNonce?: NonceResponse): SignedCheckinAnswer {
  const payload: CheckinAnswerPayload = { type: 'checkin-answer', deviceId: bound.deviceId, nonce: bound.nonce, issuedAt: now.toISOString(), answer, ...(nextNonce && { nextNonce }) };
  return { ...answer, signedAnswer: signPayload(payload, key), ...(nextNonce && { nextNonce }) };
}
