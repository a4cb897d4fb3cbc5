// The device-facing endpoints (see docs/device-api.md): enrollment, nonces, check-in, reports.
import { createPublicKey } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { algorithmOf, type DeviceKey } from '../schemas/device-envelope.js';
import type { FleetStore } from '../fleet/fleet-store.js';
import { describeZodIssues } from '../platform/zod-issues.js';
import {
  checkinRequestSchema,
  deviceIdSchema,
  enrollRequestSchema,
  healthReportSchema,
  heartbeatSchema,
  type EnrollResponse,
  type HeartbeatResponse,
  type NonceResponse,
  type ReportResponse,
} from '../schemas/device-api.js';
import type { ArtifactStore } from '../stores/artifact-store.js';
import { signCheckinAnswer } from './answer-signing.js';
import { decideCheckin, type ReleasePolicy } from './checkin-offer.js';
import { checkEnrollmentToken } from './enrollment-token.js';
import type { AttestationPolicy } from '../attestation/standing.js';
import { HttpError, readJsonBody, sendJson } from './http.js';
import { nonceError, verifySignedRequest } from './signed-request.js';

export interface DeviceApiOptions {
  fleet: FleetStore;
  store: ArtifactStore;
  /** Required for POST /v1/enroll; without it enrollment is closed. */
  enrollmentToken?: string;
  nonceTtlSeconds: number;
  pollAfterSeconds: number;
  releasePolicy: ReleasePolicy;
  /** Signs every check-in answer (answer-signing.ts); devices pin its public key. */
  answerKey: DeviceKey;
  /** Attestation policy: quarantined devices are offered only their remediation release. */
  attestation?: AttestationPolicy;
}

export async function enroll(api: DeviceApiOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  checkEnrollmentToken(req, api.enrollmentToken);
  const parsed = enrollRequestSchema.safeParse(await readJsonBody(req));
  if (!parsed.success) throw new HttpError(400, 'invalid-request', describeZodIssues(parsed.error, { unknownKeys: 'per-key' }));
  const { deviceId, hardwareId, channel, labels, publicKey } = parsed.data;
  let actual;
  try {
    actual = algorithmOf(createPublicKey(publicKey.pem));
  } catch (error) {
    throw new HttpError(400, 'invalid-public-key', `publicKey.pem: ${(error as Error).message}`);
  }
  if (actual !== publicKey.algorithm) throw new HttpError(400, 'invalid-public-key', `publicKey.algorithm: the key is ${actual}, not ${publicKey.algorithm}`);

  const outcome = await api.fleet.enrollDevice({ id: deviceId, hardwareId, channel, labels, publicKeyPem: publicKey.pem, keyAlgorithm: publicKey.algorithm });
  if (outcome.kind === 'revoked') throw new HttpError(403, 'device-revoked', `device ${deviceId} was revoked; an operator must remove it before it can enroll again`);
  if (outcome.kind === 'conflict') throw new HttpError(409, 'device-exists', `device ${deviceId} is already enrolled with another key or hardware id`);
  const body: EnrollResponse = { deviceId, enrolledAt: outcome.device.enrolledAt.toISOString(), created: outcome.kind === 'created' };
  sendJson(res, outcome.kind === 'created' ? 201 : 200, body);
}

export async function issueNonce(api: DeviceApiOptions, url: URL, res: ServerResponse): Promise<void> {
  const id = deviceIdSchema.safeParse(url.searchParams.get('device') ?? '');
  if (!id.success) throw new HttpError(400, 'invalid-request', `device: ${id.error.issues[0]?.message ?? 'required'}`);
  const device = await api.fleet.getDevice(id.data);
  if (!device) throw new HttpError(403, 'unknown-device', `device ${id.data} is not enrolled`);
  if (device.revokedAt) throw new HttpError(403, 'device-revoked', `device ${device.id} was revoked`);
  const { nonce, expiresAt } = await api.fleet.issueNonce(device.id, api.nonceTtlSeconds);
  const body: NonceResponse = { nonce, expiresAt: expiresAt.toISOString() };
  sendJson(res, 200, body);
}

export async function checkin(api: DeviceApiOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { device, message } = await verifySignedRequest(api.fleet, await readJsonBody(req), checkinRequestSchema);
  if (message.hardwareId !== device.hardwareId) {
    throw new HttpError(403, 'hardware-mismatch', `device ${device.id} enrolled as ${device.hardwareId}, checks in as ${message.hardwareId}`);
  }
  const nonce = await api.fleet.consumeNonce(device.id, message.nonce);
  if (nonce !== 'ok') throw nonceError(nonce);
  await api.fleet.recordCheckin(device.id, { currentVersion: message.currentVersion, imageSha256: message.imageSha256, slot: message.bootedSlot, securityVersion: message.securityVersion });
  const answer = await decideCheckin({ fleet: api.fleet, store: api.store, pollAfterSeconds: api.pollAfterSeconds, releasePolicy: api.releasePolicy, attestation: api.attestation }, device, message);
  sendJson(res, 200, signCheckinAnswer(api.answerKey, answer, { deviceId: device.id, nonce: message.nonce }));
}

export async function report(api: DeviceApiOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { message, envelope } = await verifySignedRequest(api.fleet, await readJsonBody(req), healthReportSchema);
  const outcome = await api.fleet.storeReport(message, envelope);
  if (outcome.kind === 'nonce-rejected') throw nonceError(outcome.reason);
  if (outcome.kind === 'stale-counter') {
    throw new HttpError(409, 'stale-counter', `counter ${message.counter} is not above the last stored counter ${outcome.lastCounter} (replay or duplicate)`);
  }
  if (outcome.kind === 'counter-jump') throw counterJump(message.counter, outcome);
  const body: ReportResponse = { status: 'accepted', counter: outcome.counter };
  sendJson(res, 200, body);
}

export async function heartbeat(api: DeviceApiOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { message, envelope } = await verifySignedRequest(api.fleet, await readJsonBody(req), heartbeatSchema);
  const outcome = await api.fleet.storeHeartbeat(message, envelope);
  if (outcome.kind === 'nonce-rejected') throw nonceError(outcome.reason);
  if (outcome.kind === 'stale-counter') {
    throw new HttpError(409, 'stale-counter', `heartbeat counter ${message.counter} is not above the last stored heartbeat counter ${outcome.lastCounter} (replay or duplicate)`);
  }
  if (outcome.kind === 'counter-jump') throw counterJump(message.counter, outcome);
  const body: HeartbeatResponse = { status: 'accepted', counter: outcome.counter };
  sendJson(res, 200, body);
}

function counterJump(counter: number, outcome: { lastCounter: number; maxStep: number }): HttpError {
  return new HttpError(409, 'counter-jump', `counter ${counter} jumps more than ${outcome.maxStep} past the last stored counter ${outcome.lastCounter}; refused, nothing stored`);
}
