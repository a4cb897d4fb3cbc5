// The device's reading of a check-in answer (answer-verification.ts), as a pure function: which
// answer is acted on, and which code refuses it, with and without a pinned gateway answer key.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { pinnedAnswerKey, readCheckinAnswer } from '../../../device-client/gateway/answer-verification.js';
import { signCheckinAnswer } from '../../../gateway/answer-signing.js';
import type { CheckinResponse } from '../../../schemas/device-api.js';
import { generateDeviceKey } from '../../../schemas/device-envelope.js';

const bound = { deviceId: 'dev-1', nonce: randomBytes(32).toString('base64url') };
const none: CheckinResponse = { action: 'none', pollAfterSeconds: 60 };
const refusedCode = (reading: ReturnType<typeof readCheckinAnswer>) => ('refused' in reading ? reading.refused.code : 'malformed' in reading ? 'malformed' : 'ok');

describe('readCheckinAnswer', () => {
  for (const algorithm of ['ecdsa-p256-sha256', 'ed25519'] as const) {
    it(`accepts the signed answer for this device and nonce (${algorithm})`, () => {
      const key = generateDeviceKey(algorithm);
      expect(readCheckinAnswer(signCheckinAnswer(key, none, bound), pinnedAnswerKey(key.publicKeyPem), bound)).toEqual({ ok: true, answer: none });
    });
  }

  it('refuses a tampered payload, a relabelled algorithm and a non-object signature as BAD_SIGNATURE', () => {
    const key = generateDeviceKey('ecdsa-p256-sha256');
    const pin = pinnedAnswerKey(key.publicKeyPem);
    const signed = signCheckinAnswer(key, none, bound);
    const other = signCheckinAnswer(key, { action: 'none', pollAfterSeconds: 1 }, bound);
    const tampered = { ...signed, signedAnswer: { ...signed.signedAnswer, payload: other.signedAnswer.payload } };
    const relabelled = { ...signed, signedAnswer: { ...signed.signedAnswer, algorithm: 'ed25519' } };
    for (const doc of [tampered, relabelled, { ...none, signedAnswer: 'x' }]) expect(refusedCode(readCheckinAnswer(doc, pin, bound))).toBe('GATEWAY_ANSWER_BAD_SIGNATURE');
  });

  it('without a pin: the plain fields, the envelope ignored; a body that is no answer is malformed', () => {
    const key = generateDeviceKey('ed25519');
    expect(readCheckinAnswer({ ...signCheckinAnswer(key, none, bound), pollAfterSeconds: 5 }, undefined, bound)).toEqual({ ok: true, answer: { action: 'none', pollAfterSeconds: 5 } });
    expect(refusedCode(readCheckinAnswer(null, undefined, bound))).toBe('malformed');
    expect(refusedCode(readCheckinAnswer(null, pinnedAnswerKey(key.publicKeyPem), bound))).toBe('GATEWAY_ANSWER_UNSIGNED');
  });
});
