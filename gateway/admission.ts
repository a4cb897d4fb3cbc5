// The admission decision for POST /v1/enroll, pure: from what the request proves and what the
// fleet store holds, admit (and with which operator selectors), park as pending, or refuse with a
// distinct code. The enroll handler (device-routes.ts) only gathers these facts and carries the
// answer out. Selectors (channel, labels) only ever come from the operator's side.
import type { Labels } from '../schemas/device-api.js';
import { devicePatternMatches, type FactoryVerdict } from './factory-identity.js';

export type AdmissionPath = 'preauthorization' | 'token' | 'factory-policy' | 'shared-token';

export interface AdmissionFacts {
  deviceId: string;
  hardwareId: string;
  /** The body's proof verified with the key it enrolls. */
  proofValid: boolean;
  /** The devices row for this id, compared with the request's key and hardware. */
  existing?: { sameKey: boolean; sameHardware: boolean; revoked: boolean };
  /** A factory-identity request already on record. */
  request?: { state: 'pending' | 'rejected'; sameKey: boolean };
  preauthorization?: { sameKey: boolean; hardwareId: string; channel: string; labels: Labels };
  /** The bearer token, if any, as the store knows it. */
  token?:
    | { kind: 'shared' }
    | { kind: 'unknown' }
    | { kind: 'record'; deviceId: string; hardwareId: string | null; channel: string; labels: Labels; expiresAt: Date; used: boolean };
  /** The fleet runs the lab-only shared token (--insecure-shared-token). */
  sharedTokenEnabled: boolean;
  /** The verdict on a presented factory chain, with the trusted CA's policy when it verified. */
  factory?: { verdict: FactoryVerdict; policy?: { autoAccept: string | null; channel: string; labels: Labels } };
  now: Date;
}

export type AdmissionDecision =
  | { kind: 'existing' }
  | { kind: 'admit'; via: AdmissionPath; channel: string; labels: Labels; spendsToken: boolean }
  | { kind: 'pending'; caFingerprint: string; leafPem: string; recorded: boolean }
  | { kind: 'refuse'; status: 400 | 401 | 403 | 409; code: string; detail: string };

/** Where lab devices admitted by the shared token land: no labels, so no rollout selector can pick them by label. */
export const SHARED_TOKEN_CHANNEL = 'stable';

const refuse = (status: 400 | 401 | 403 | 409, code: string, detail: string): AdmissionDecision => ({ kind: 'refuse', status, code, detail });

export function admissionDecision(f: AdmissionFacts): AdmissionDecision {
  const id = f.deviceId;
  if (!f.proofValid) return refuse(401, 'enroll-proof-invalid', 'proof does not verify over the enroll body with the key it enrolls: the sender does not hold that key');
  if (f.existing?.revoked) return refuse(403, 'device-revoked', `device ${id} was revoked; an operator must remove it before it can enroll again`);
  // A retry by the holder of the enrolled key (its answer was lost, its token is spent): nothing changes.
  if (f.existing?.sameKey && f.existing.sameHardware) return { kind: 'existing' };
  // A presented token is judged first, so a replayed one is named as such.
  const byToken = f.token && tokenDecision(f, f.token);
  if (byToken?.kind === 'refuse') return byToken;
  if (f.existing) return refuse(409, 'device-exists', `device ${id} is already enrolled with another key or hardware id`);
  if (f.request?.state === 'rejected') return refuse(403, 'device-rejected', `an operator rejected device ${id}`);
  if (f.request && !f.request.sameKey) return refuse(409, 'device-exists', `device ${id} already asked for admission with another key`);
  if (byToken) return byToken;
  if (f.preauthorization) {
    const p = f.preauthorization;
    if (!p.sameKey) return refuse(403, 'preauthorization-key-mismatch', `device ${id} is preauthorized with another public key`);
    if (p.hardwareId !== f.hardwareId) return refuse(403, 'preauthorization-hardware-mismatch', `device ${id} is preauthorized as hardware ${p.hardwareId}, not ${f.hardwareId}`);
    return { kind: 'admit', via: 'preauthorization', channel: p.channel, labels: p.labels, spendsToken: false };
  }
  if (f.factory) {
    const { verdict, policy } = f.factory;
    if (!verdict.ok) return refuse(403, verdict.code, verdict.detail);
    if (policy?.autoAccept && devicePatternMatches(policy.autoAccept, id)) {
      return { kind: 'admit', via: 'factory-policy', channel: policy.channel, labels: policy.labels, spendsToken: false };
    }
    return { kind: 'pending', caFingerprint: verdict.caFingerprint, leafPem: verdict.leafPem, recorded: f.request?.state === 'pending' };
  }
  if (f.request?.state === 'pending') return refuse(403, 'device-pending', `device ${id} waits for an operator (ota fleet accept ${id})`);
  if (f.sharedTokenEnabled) return refuse(401, 'enrollment-token-required', 'send the enrollment token as "authorization: Bearer <token>"');
  return refuse(403, 'not-preauthorized', `device ${id} has no preauthorization, enrollment token or trusted factory identity (ota fleet preauthorize / ota fleet token / ota fleet factory-ca)`);
}

function tokenDecision(f: AdmissionFacts, token: NonNullable<AdmissionFacts['token']>): AdmissionDecision {
  if (token.kind === 'shared') return { kind: 'admit', via: 'shared-token', channel: SHARED_TOKEN_CHANNEL, labels: {}, spendsToken: false };
  if (token.kind === 'unknown') return refuse(401, 'enrollment-token-invalid', 'the enrollment token is not valid (a fleet-wide token is refused unless the gateway runs --insecure-shared-token)');
  if (token.deviceId !== f.deviceId) return refuse(403, 'enrollment-token-wrong-device', `this enrollment token is for another device, not ${f.deviceId}`);
  if (token.used) return refuse(401, 'enrollment-token-used', 'this enrollment token was already used; ask the operator for a new one (ota fleet token)');
  if (token.expiresAt <= f.now) return refuse(401, 'enrollment-token-expired', `this enrollment token expired at ${token.expiresAt.toISOString()}`);
  if (token.hardwareId !== null && token.hardwareId !== f.hardwareId) {
    return refuse(403, 'enrollment-token-wrong-hardware', `this enrollment token is for hardware ${token.hardwareId}, not ${f.hardwareId}`);
  }
  return { kind: 'admit', via: 'token', channel: token.channel, labels: token.labels, spendsToken: true };
}
