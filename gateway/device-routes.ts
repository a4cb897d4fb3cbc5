// The device-facing endpoints (see docs/device-api.md): enrollment, nonces, check-in, reports.
import type { LocalTrustRootJSON } from '../signing/trust-root.js';
import { createPublicKey } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { algorithmOf, type DeviceKey } from '../schemas/device-envelope.js';
import type { FleetStore } from '../fleet/fleet-store.js';
import { describeZodIssues } from '../platform/zod-issues.js';
import {
  checkinRequestSchema,
  deviceIdSchema,
  DEVICE_SELECTOR_KEYS,
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
import type { OnDemandDeltaPolicy } from './on-demand-delta.js';
import { assertSameDevice } from './client-certificate.js';
import { admissionDecision } from './admission.js';
import { gatherAdmissionFacts, notAdmittedError } from './admission-facts.js';
import { bearerToken } from './enrollment-token.js';
import type { AttestationPolicy } from '../attestation/standing.js';
import { judgeDrift, type DriftPolicy } from './drift-gate.js';
import { HttpError, readJsonBody, sendJson } from './http.js';
import { quarantineCertificateHold } from './quarantine-gate.js';
import { noteOutcome } from './request-metrics.js';
import { deviceKeys, nonceError, verifySignedRequest, type Certified } from './signed-request.js';

/** With mTLS, Certified carries the client certificate's device (id and row); signed requests must be its own. */
export interface DeviceApiOptions extends Certified {
  fleet: FleetStore;
  store: ArtifactStore;
  /** Lab only (--insecure-shared-token): a fleet-wide token that admits any device id, without labels. */
  insecureSharedToken?: string;
  nonceTtlSeconds: number;
  /** Lifetime of a check-in answer's nextNonce: longer than pollAfterSeconds (nextNonceTtl in server.ts). */
  nextNonceTtlSeconds: number;
  pollAfterSeconds: number;
  releasePolicy: ReleasePolicy;
  /** Signs every check-in answer (answer-signing.ts); devices pin its public key. */
  answerKey: DeviceKey;
  /** With mTLS: the client certificate is a quarantine certificate (check-in answers only remediation or hold). */
  certifiedQuarantine?: boolean;
  /** Attestation policy: quarantined devices are offered only their remediation release. */
  attestation?: AttestationPolicy;
  /** Posture drift: recorded for every heartbeat with posture; these kinds quarantine (gateway/drift-gate.ts). */
  drift?: DriftPolicy;
  /** Deltas on demand for devices older than the last K releases (gateway/on-demand-delta.ts). */
  onDemandDeltas?: OnDemandDeltaPolicy;
  /** The fleet's Sigstore trust root, for keyless approvals (gateway/release-approvals.ts). */
  sigstoreTrustRoot?: LocalTrustRootJSON;
}

export async function enroll(api: DeviceApiOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const presented = bearerToken(req);
  const raw = await readJsonBody(req);
  const selectors = raw !== null && typeof raw === 'object' ? DEVICE_SELECTOR_KEYS.filter((key) => key in raw) : [];
  if (selectors.length) throw new HttpError(400, 'device-selectors-refused', `${selectors.join(', ')}: set by the operator (preauthorization, token or acceptance), never by the device; send none`);
  const parsed = enrollRequestSchema.safeParse(raw);
  if (!parsed.success) throw new HttpError(400, 'invalid-request', describeZodIssues(parsed.error, { unknownKeys: 'per-key' }));
  const request = parsed.data;
  let parsedKey;
  let actual;
  try {
    parsedKey = createPublicKey(request.publicKey.pem);
    actual = algorithmOf(parsedKey);
  } catch (error) {
    throw new HttpError(400, 'invalid-public-key', `publicKey.pem: ${(error as Error).message}`);
  }
  if (actual !== request.publicKey.algorithm) throw new HttpError(400, 'invalid-public-key', `publicKey.algorithm: the key is ${actual}, not ${request.publicKey.algorithm}`);

  const { deviceId, hardwareId, publicKey } = request;
  const decision = admissionDecision(await gatherAdmissionFacts(api.fleet, request, presented, api.insecureSharedToken, new Date()));
  if (decision.kind === 'refuse') throw new HttpError(decision.status, decision.code, decision.detail);
  if (decision.kind === 'pending') {
    const recorded = await api.fleet.requestAdmission({ deviceId, hardwareId, publicKeyPem: publicKey.pem, keyAlgorithm: publicKey.algorithm, factoryCa: decision.caFingerprint, certificatePem: decision.leafPem });
    const body: EnrollResponse = { status: 'pending', deviceId, requestedAt: recorded.requestedAt.toISOString() };
    return sendJson(res, 202, body);
  }
  if (decision.kind === 'existing') {
    const device = (await api.fleet.getDevice(deviceId))!;
    return sendJson(res, 200, { status: 'admitted', deviceId, enrolledAt: device.enrolledAt.toISOString(), created: false } satisfies EnrollResponse);
  }
  const input = { id: deviceId, hardwareId, channel: decision.channel, labels: decision.labels, publicKeyPem: publicKey.pem, keyAlgorithm: publicKey.algorithm };
  const outcome = await api.fleet.admitDevice(input, decision.spendsToken ? { token: presented! } : undefined);
  if (outcome.kind === 'token-spent') throw new HttpError(401, 'enrollment-token-used', 'this enrollment token was already used; ask the operator for a new one (ota fleet token)');
  if (outcome.kind === 'taken') throw new HttpError(409, 'device-exists', `device ${deviceId} was enrolled by a concurrent request; enroll again`);
  deviceKeys.remember(deviceId, publicKey.pem, parsedKey); // its first signed request then skips a key decode
  sendJson(res, 201, { status: 'admitted', deviceId, enrolledAt: outcome.device.enrolledAt.toISOString(), created: true } satisfies EnrollResponse);
}

export async function issueNonce(api: DeviceApiOptions, url: URL, res: ServerResponse): Promise<void> {
  const id = deviceIdSchema.safeParse(url.searchParams.get('device') ?? '');
  if (!id.success) throw new HttpError(400, 'invalid-request', `device: ${id.error.issues[0]?.message ?? 'required'}`);
  assertSameDevice(api.certifiedDeviceId, id.data);
  // One statement: the device lookup and the nonce together; an unknown (or pending) or revoked device gets nothing.
  const issued = await api.fleet.issueNonceIfAdmitted(id.data, api.nonceTtlSeconds);
  if (issued.kind === 'unknown') throw await notAdmittedError(api.fleet, id.data);
  if (issued.kind === 'revoked') throw new HttpError(403, 'device-revoked', `device ${id.data} was revoked`);
  const { nonce, expiresAt } = issued;
  const body: NonceResponse = { nonce, expiresAt: expiresAt.toISOString() };
  sendJson(res, 200, body);
}

export async function checkin(api: DeviceApiOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { device, message } = await verifySignedRequest(api.fleet, await readJsonBody(req), checkinRequestSchema, api);
  if (message.hardwareId !== device.hardwareId) {
    throw new HttpError(403, 'hardware-mismatch', `device ${device.id} enrolled as ${device.hardwareId}, checks in as ${message.hardwareId}`);
  }
  const state = { currentVersion: message.currentVersion, imageSha256: message.imageSha256, slot: message.bootedSlot, securityVersion: message.securityVersion };
  // Asked for (acceptsNextNonce): the device's next nonce comes with this answer, issued in the same
  // statement; so are the offer facts the answer is decided on (not needed for a quarantine certificate).
  const spent = await api.fleet.spendNonceRecordCheckinAndIssueNext(device.id, message.nonce, state, message.acceptsNextNonce ? api.nextNonceTtlSeconds : undefined, api.certifiedQuarantine ? undefined : device);
  if (spent.check !== 'ok') throw nonceError(spent.check);
  const nextNonce = spent.next && { nonce: spent.next.nonce, expiresAt: spent.next.expiresAt.toISOString() };
  // A quarantine certificate with no open quarantine (in the grace, or released since) is told to renew first.
  const answer = api.certifiedQuarantine && !(api.attestation && (await api.fleet.openQuarantineFor(device.id)))
    ? quarantineCertificateHold(api.pollAfterSeconds)
    : await decideCheckin({ fleet: api.fleet, store: api.store, pollAfterSeconds: api.pollAfterSeconds, releasePolicy: api.releasePolicy, attestation: api.attestation, onDemandDeltas: api.onDemandDeltas, sigstoreTrustRoot: api.sigstoreTrustRoot }, device, message, spent.facts);
  noteOutcome(res, { outcome: answer.action, artifact: 'artifact' in answer ? answer.artifact : undefined });
  sendJson(res, 200, signCheckinAnswer(api.answerKey, answer, { deviceId: device.id, nonce: message.nonce }, new Date(), nextNonce));
}

export async function report(api: DeviceApiOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { message, envelope } = await verifySignedRequest(api.fleet, await readJsonBody(req), healthReportSchema, api);
  const outcome = await api.fleet.storeReport(message, envelope);
  if (outcome.kind === 'nonce-rejected') throw nonceError(outcome.reason);
  if (outcome.kind === 'stale-counter') {
    throw new HttpError(409, 'stale-counter', `counter ${message.counter} is not above the last stored counter ${outcome.lastCounter} (replay or duplicate)`);
  }
  if (outcome.kind === 'counter-jump') throw counterJump(message.counter, outcome);
  noteOutcome(res, { outcome: 'accepted', state: message.state, failureKind: message.failureKind });
  const body: ReportResponse = { status: 'accepted', counter: outcome.counter };
  sendJson(res, 200, body);
}

export async function heartbeat(api: DeviceApiOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { device, message, envelope } = await verifySignedRequest(api.fleet, await readJsonBody(req), heartbeatSchema, api);
  const outcome = await api.fleet.storeHeartbeat(message, envelope);
  if (outcome.kind === 'nonce-rejected') throw nonceError(outcome.reason);
  if (outcome.kind === 'stale-counter') {
    throw new HttpError(409, 'stale-counter', `heartbeat counter ${message.counter} is not above the last stored heartbeat counter ${outcome.lastCounter} (replay or duplicate)`);
  }
  if (outcome.kind === 'counter-jump') throw counterJump(message.counter, outcome);
  await judgeDrift({ fleet: api.fleet, store: api.store, drift: api.drift }, device, message);
  noteOutcome(res, { outcome: 'accepted' });
  const body: HeartbeatResponse = { status: 'accepted', counter: outcome.counter };
  sendJson(res, 200, body);
}

function counterJump(counter: number, outcome: { lastCounter: number; maxStep: number }): HttpError {
  return new HttpError(409, 'counter-jump', `counter ${counter} jumps more than ${outcome.maxStep} past the last stored counter ${outcome.lastCounter}; refused, nothing stored`);
}
