// Gathers what admissionDecision (admission.ts) needs for one enroll request: the device's row,
// its pending request, its preauthorization, the presented token as the store knows it and the
// factory chain's verdict. Reads only; the enroll handler writes after the decision.
import type { FleetStore } from '../fleet/fleet-store.js';
import { samePem } from '../fleet/devices.js';
import type { EnrollRequest } from '../schemas/device-api.js';
import { enrollProofValid } from '../schemas/enroll-proof.js';
import type { AdmissionFacts } from './admission.js';
import { isSharedToken } from './enrollment-token.js';
import { HttpError } from './http.js';
import { verifyFactoryChain } from './factory-identity.js';

export async function gatherAdmissionFacts(fleet: FleetStore, request: EnrollRequest, presented: string | undefined, sharedToken: string | undefined, now: Date): Promise<AdmissionFacts> {
  const { deviceId, hardwareId, publicKey } = request;
  const sameKey = (other: { publicKeyPem: string; keyAlgorithm: string }) => samePem(other.publicKeyPem, publicKey.pem) && other.keyAlgorithm === publicKey.algorithm;
  const [device, pending, preauthorization] = await Promise.all([fleet.getDevice(deviceId), fleet.getAdmissionRequest(deviceId), fleet.getPreauthorization(deviceId)]);
  const facts: AdmissionFacts = {
    deviceId,
    hardwareId,
    proofValid: enrollProofValid(request),
    existing: device && { sameKey: sameKey(device), sameHardware: device.hardwareId === hardwareId, revoked: device.revokedAt !== null },
    request: pending && { state: pending.state, sameKey: sameKey(pending) },
    preauthorization: preauthorization && { ...preauthorization, sameKey: sameKey(preauthorization) },
    sharedTokenEnabled: sharedToken !== undefined,
    now,
  };
  if (presented !== undefined) facts.token = await tokenFact(fleet, presented, sharedToken);
  if (request.factoryChain) {
    const cas = await fleet.listFactoryCas();
    const verdict = verifyFactoryChain({ chainPems: request.factoryChain, deviceId, publicKeyPem: publicKey.pem, trusted: cas, now });
    const ca = verdict.ok ? cas.find((c) => c.fingerprint === verdict.caFingerprint) : undefined;
    facts.factory = { verdict, policy: ca && { autoAccept: ca.autoAccept, channel: ca.channel, labels: ca.labels } };
  }
  return facts;
}

async function tokenFact(fleet: FleetStore, presented: string, sharedToken: string | undefined): Promise<NonNullable<AdmissionFacts['token']>> {
  if (isSharedToken(presented, sharedToken)) return { kind: 'shared' };
  const record = await fleet.findEnrollmentToken(presented);
  if (!record) return { kind: 'unknown' };
  return { kind: 'record', deviceId: record.deviceId, hardwareId: record.hardwareId, channel: record.channel, labels: record.labels, expiresAt: record.expiresAt, used: record.usedAt !== null };
}

/** The 403 for a device id with no devices row: waiting for an operator, rejected, or unknown. */
export async function notAdmittedError(fleet: FleetStore, deviceId: string): Promise<HttpError> {
  // Called only when the devices row is missing: the admission request alone says the rest.
  const state = (await fleet.getAdmissionRequest(deviceId))?.state;
  if (state === 'pending') return new HttpError(403, 'device-pending', `device ${deviceId} waits for an operator to accept it (ota fleet accept ${deviceId}); no nonces or check-ins until then`);
  if (state === 'rejected') return new HttpError(403, 'device-rejected', `an operator rejected device ${deviceId}`);
  return new HttpError(403, 'unknown-device', `device ${deviceId} is not enrolled`);
}
