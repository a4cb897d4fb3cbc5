// The fleet store: devices and their keys, what each device last reported, single-use nonces,
// signed health reports, and the rollout assignments the gateway obeys at check-in. The rollout
// orchestrator reads health only as aggregates from here (ringReportCounts), never one message per device.
//
// A thin facade: it owns the database connection and hands each call to the module of its
// concern (devices, nonces, reports, rollouts; rows maps SQL rows to records). Replay rules live
// in SQL so they hold across gateway processes: a nonce is consumed with one conditional UPDATE,
// a counter only moves up with one conditional UPDATE, both in the report's transaction.
import type { HealthReport, Heartbeat, SignedEnvelope } from '../schemas/device-api.js';
import * as audit from './audit.js';
import * as admission from './admission.js';
import { openDatabase, type FleetDatabase, type Queryable } from './database.js';
import * as certificates from './certificates.js';
import * as attestations from './attestations.js';
import * as deltaRequests from './delta-requests.js';
import * as devices from './devices.js';
import * as drift from './drift.js';
import * as heartbeats from './heartbeats.js';
import { applyMigrations } from './migrations.js';
import * as nonces from './nonces.js';
import * as offers from './offer-facts.js';
import * as operatorTokens from './operator-tokens.js';
import * as reports from './reports.js';
import * as rollouts from './rollouts.js';
import * as tpmVendorCas from './tpm-vendor-cas.js';

export type { DeviceSelector, DeviceState, DeviceWithState, EnrolledDevice, EnrollInput, EnrollOutcome } from './devices.js';
export type { AcceptOutcome, AdmissionRequest, AdmissionSpend, AdmissionState, AdmitOutcome, EnrollmentTokenRecord, FactoryCa, NewEnrollmentToken, Preauthorization } from './admission.js';
export type { NonceCheck, NonceIssue } from './nonces.js';
export type { DeltaRequest, DeltaRequestKey, DeltaRequestOutcome, DeltaRequestState, NewDeltaRequest } from './delta-requests.js';
export type { CertificateRecord, IssuedCertificateRecord, SerialStatus } from './certificates.js';
export type { AuditEntry, AuditInput, AuditQuery, AuditResult, AuditVerification, RecordedDecision } from './audit.js';
export type { NewOperatorToken, OperatorToken } from './operator-tokens.js';
export type { StoreSignedOutcome } from './signed-messages.js';
export type { HeartbeatAggregate, HeartbeatCounts, HeartbeatWindow, RingCohorts, StoredHeartbeat } from './heartbeats.js';
export type { CheckinState, RingCountOptions, RingReportCounts, StoredReport } from './reports.js';
export type { Assignment, AssignmentAction, AssignmentScope, AttemptFailure, NewRollout, NewRolloutRing, Rollout, RolloutRecordState, RolloutRing } from './rollouts.js';

export type { AttestationKeyRecord, AttestationRecord, EkTrustRecord, QuarantineRecord } from './attestations.js';
export type { TpmVendorCaRecord } from './tpm-vendor-cas.js';
export type { DesiredStateRecord, DriftEvent, DriftReconciliation, EffectiveDesiredState, ObservedDrift } from './drift.js';

export class FleetStore {
  private constructor(readonly db: FleetDatabase) {}

  /** Opens the database named by fleet.databaseUrl and brings its schema up to date. */
  static async open(databaseUrl: string): Promise<FleetStore> {
    const db = await openDatabase(databaseUrl);
    try {
      await applyMigrations(db);
    } catch (error) {
      await db.close();
      throw error;
    }
    return new FleetStore(db);
  }

  close(): Promise<void> {
    return this.db.close();
  }

  // Devices
  enrollDevice(input: devices.EnrollInput) {
    return devices.enrollDevice(this.db, input);
  }
  getDevice(id: string) {
    return devices.getDevice(this.db, id);
  }
  getDeviceWithState(id: string) {
    return devices.getDeviceWithState(this.db, id);
  }
  revokeDevice(id: string, reason: string) {
    return devices.revokeDevice(this.db, id, reason);
  }
  listDevices() {
    return devices.listDevices(this.db);
  }
  devicesBySelector(selector: devices.DeviceSelector) {
    return devices.devicesBySelector(this.db, selector);
  }
  runningVersions(selector: devices.DeviceSelector) {
    return devices.runningVersions(this.db, selector);
  }

  // Device client certificates (mTLS): issued serials, revocation
  recordCertificate(record: certificates.IssuedCertificateRecord) {
    return certificates.recordCertificate(this.db, record);
  }
  serialStatus(serial: string) {
    return certificates.serialStatus(this.db, serial);
  }
  revokeCertificate(serial: string, reason: string) {
    return certificates.revokeCertificate(this.db, serial, reason);
  }
  certificatesOf(deviceId: string, limit = 100) {
    return certificates.certificatesOf(this.db, deviceId, limit);
  }
  // Admission (fleet/admission.ts): preauthorizations, enrollment tokens, factory CAs, pending devices
  preauthorize(p: Omit<admission.Preauthorization, 'createdAt'>) {
    return admission.preauthorize(this.db, p);
  }
  preauthorizeAll(list: Array<Omit<admission.Preauthorization, 'createdAt'>>) {
    return admission.preauthorizeAll(this.db, list);
  }
  getPreauthorization(deviceId: string) {
    return admission.getPreauthorization(this.db, deviceId);
  }
  listPreauthorizations() {
    return admission.listPreauthorizations(this.db);
  }
  removePreauthorization(deviceId: string) {
    return admission.removePreauthorization(this.db, deviceId);
  }
  createEnrollmentToken(t: admission.NewEnrollmentToken) {
    return admission.createEnrollmentToken(this.db, t);
  }
  findEnrollmentToken(token: string) {
    return admission.findEnrollmentToken(this.db, token);
  }
  addFactoryCa(ca: Omit<admission.FactoryCa, 'addedAt'>) {
    return admission.addFactoryCa(this.db, ca);
  }
  listFactoryCas() {
    return admission.listFactoryCas(this.db);
  }
  removeFactoryCa(fingerprint: string) {
    return admission.removeFactoryCa(this.db, fingerprint);
  }
  // TPM vendor CAs (fleet/tpm-vendor-cas.ts)
  addTpmVendorCa(ca: Omit<tpmVendorCas.TpmVendorCaRecord, 'addedAt'>) {
    return tpmVendorCas.addTpmVendorCa(this.db, ca);
  }
  listTpmVendorCas() {
    return tpmVendorCas.listTpmVendorCas(this.db);
  }
  removeTpmVendorCa(fingerprint: string) {
    return tpmVendorCas.removeTpmVendorCa(this.db, fingerprint);
  }
  requestAdmission(r: Parameters<typeof admission.requestAdmission>[1]) {
    return admission.requestAdmission(this.db, r);
  }
  getAdmissionRequest(deviceId: string) {
    return admission.getAdmissionRequest(this.db, deviceId);
  }
  listAdmissionRequests() {
    return admission.listAdmissionRequests(this.db);
  }
  acceptDevice(deviceId: string, selectors: { channel?: string; labels?: Record<string, string> } = {}) {
    return admission.acceptDevice(this.db, deviceId, selectors);
  }
  rejectDevice(deviceId: string) {
    return admission.rejectDevice(this.db, deviceId);
  }
  admitDevice(input: devices.EnrollInput, spend: admission.AdmissionSpend) {
    return admission.admitDevice(this.db, input, spend);
  }
  /** 'admitted' | 'pending' | 'rejected' | 'unknown' | 'revoked': what certificate issuance and the nonce endpoint ask. */
  admissionState(deviceId: string) {
    return admission.admissionState(this.db, deviceId);
  }

  // Nonces
  issueNonce(deviceId: string, ttlSeconds: number) {
    return nonces.issueNonce(this.db, deviceId, ttlSeconds);
  }
  /** q: a transaction to consume the nonce in (the store's own connection by default). */
  /** issueNonce for an enrolled, unrevoked device in one statement; for an unknown or revoked one nothing is written. */
  issueNonceIfAdmitted(deviceId: string, ttlSeconds: number) {
    return nonces.issueNonceIfAdmitted(this.db, deviceId, ttlSeconds);
  }
  /** consumeNonce and recordCheckin in one statement: the state moves only with a fresh nonce. */
  spendNonceAndRecordCheckin(deviceId: string, nonce: string, state: reports.CheckinState) {
    return reports.spendNonceAndRecordCheckin(this.db, deviceId, nonce, state);
  }
  /** The check-in's spend and record, plus (with a TTL) the device's next nonce and (with a device) its offer facts, in one statement. */
  spendNonceRecordCheckinAndIssueNext(deviceId: string, nonce: string, state: reports.CheckinState, nextNonceTtlSeconds?: number, offerFactsFor?: Parameters<typeof offers.offerFacts>[1]) {
    return reports.spendNonceRecordCheckinAndIssueNext(this.db, deviceId, nonce, state, nextNonceTtlSeconds, offerFactsFor);
  }
  consumeNonce(deviceId: string, nonce: string, q: Queryable = this.db) {
    return nonces.consumeNonce(q, deviceId, nonce);
  }
  pruneNonces(graceSeconds = 3600) {
    return nonces.pruneNonces(this.db, graceSeconds);
  }

  // Check-ins and reports
  recordCheckin(deviceId: string, state: reports.CheckinState) {
    return reports.recordCheckin(this.db, deviceId, state);
  }
  storeReport(report: HealthReport, envelope: SignedEnvelope) {
    return reports.storeReport(this.db, report, envelope);
  }
  reportsOf(deviceId: string, limit = 100) {
    return reports.reportsOf(this.db, deviceId, limit);
  }
  ringReportCounts(rolloutId: string, ring: string, options: reports.RingCountOptions = {}) {
    return reports.ringReportCounts(this.db, rolloutId, ring, options);
  }

  // Heartbeats: post-commit health of every running device, per release, ring and window
  storeHeartbeat(heartbeat: Heartbeat, envelope: SignedEnvelope) {
    return heartbeats.storeHeartbeat(this.db, heartbeat, envelope);
  }
  heartbeatsOf(deviceId: string, limit = 100) {
    return heartbeats.heartbeatsOf(this.db, deviceId, limit);
  }
  heartbeatAggregates(rolloutId: string, window: heartbeats.HeartbeatWindow) {
    return heartbeats.heartbeatAggregates(this.db, rolloutId, window);
  }
  ringCohorts(rolloutId: string, ring: string, window: heartbeats.HeartbeatWindow, options?: heartbeats.CohortOptions) {
    return heartbeats.ringCohorts(this.db, rolloutId, ring, window, options);
  }
  /** Default: keep 30 days, longer than any ring's decision window. */
  pruneHeartbeats(keepSeconds = 30 * 86_400) {
    return heartbeats.pruneHeartbeats(this.db, keepSeconds);
  }

  // Rollouts: what the orchestrator writes and the gateway obeys
  createRollout(rollout: rollouts.NewRollout) {
    return rollouts.createRollout(this.db, rollout);
  }
  getRollout(id: string) {
    return rollouts.getRollout(this.db, id);
  }
  setRolloutState(id: string, state: rollouts.RolloutRecordState) {
    return rollouts.setRolloutState(this.db, id, state);
  }
  setMaxConcurrentInstalls(id: string, limit: number | null) {
    return rollouts.setMaxConcurrentInstalls(this.db, id, limit);
  }
  installsInProgress(rolloutId: string, exceptDeviceId?: string) {
    return rollouts.installsInProgress(this.db, rolloutId, exceptDeviceId);
  }
  assignDevices(rolloutId: string, assignments: Array<{ deviceId: string; ring: string }>, action: rollouts.AssignmentAction = 'offer') {
    return rollouts.assignDevices(this.db, rolloutId, assignments, action);
  }
  setAssignmentAction(rolloutId: string, action: rollouts.AssignmentAction, scope: rollouts.AssignmentScope = {}) {
    return rollouts.setAssignmentAction(this.db, rolloutId, action, scope);
  }
  openAssignmentFor(deviceId: string) {
    return rollouts.openAssignmentFor(this.db, deviceId);
  }
  gatedVersions(hardwareId: string, channel: string) {
    return rollouts.gatedVersions(this.db, hardwareId, channel);
  }
  rolledOutVersions(device: Parameters<typeof rollouts.rolledOutVersions>[1]) {
    return rollouts.rolledOutVersions(this.db, device);
  }
  otherOpenRollout(hardwareId: string, exceptId: string) {
    return rollouts.otherOpenRollout(this.db, hardwareId, exceptId);
  }
  closeOtherRollbacks(hardwareId: string, exceptId: string) {
    return rollouts.closeOtherRollbacks(this.db, hardwareId, exceptId);
  }
  devicesOnRelease(rolloutId: string, scope: { ring?: string; unreportedOnly?: boolean } = {}) {
    return rollouts.devicesOnRelease(this.db, rolloutId, scope);
  }

  // Attempts and late devices
  recordRingPlan(rolloutId: string, targetLabels: Record<string, string>, rings: rollouts.NewRolloutRing[], exposureBudget?: rollouts.RingSize) {
    return rollouts.recordRingPlan(this.db, rolloutId, targetLabels, rings, exposureBudget);
  }
  markRingOpened(rolloutId: string, ring: string) {
    return rollouts.markRingOpened(this.db, rolloutId, ring);
  }
  rolloutRings(rolloutId: string) {
    return rollouts.rolloutRings(this.db, rolloutId);
  }
  rolloutToJoin(device: Parameters<typeof rollouts.rolloutToJoin>[1]) {
    return rollouts.rolloutToJoin(this.db, device);
  }
  targetedDevices(rolloutId: string) {
    return rollouts.targetedDevices(this.db, rolloutId);
  }
  markOffered(rolloutId: string, deviceId: string) {
    return rollouts.markOffered(this.db, rolloutId, deviceId);
  }
  attemptFailures(rolloutId: string, deviceId: string) {
    return rollouts.attemptFailures(this.db, rolloutId, deviceId);
  }
  /** The offer step's reads of the rollout tables in one statement (fleet/offer-facts.ts). */
  offerFacts(device: Parameters<typeof offers.offerFacts>[1]) {
    return offers.offerFacts(this.db, device);
  }
  finishedRolloutFailures(deviceId: string) {
    return rollouts.finishedRolloutFailures(this.db, deviceId);
  }
  retryDevice(deviceId: string, releaseVersion?: string) {
    return rollouts.retryDevice(this.db, deviceId, releaseVersion);
  }

  // Operators: the hash-chained audit log and API tokens
  appendAudit(input: audit.AuditInput) {
    return audit.appendAudit(this.db, input);
  }
  appendNewDecisions(target: string, decisions: audit.RecordedDecision[]) {
    return audit.appendNewDecisions(this.db, target, decisions);
  }
  listAudit(query: audit.AuditQuery = {}) {
    return audit.listAudit(this.db, query);
  }
  verifyAuditChain() {
    return audit.verifyAuditChain(this.db);
  }
  createOperatorToken(input: operatorTokens.NewOperatorToken) {
    return operatorTokens.createOperatorToken(this.db, input);
  }
  findOperatorToken(token: string) {
    return operatorTokens.findOperatorToken(this.db, token);
  }
  listOperatorTokens() {
    return operatorTokens.listOperatorTokens(this.db);
  }
  revokeOperatorToken(id: string) {
    return operatorTokens.revokeOperatorToken(this.db, id);
  }

  // Attestation (fleet/attestations.ts)
  registerAttestationKey(key: Parameters<typeof attestations.registerAttestationKey>[1]) {
    return attestations.registerAttestationKey(this.db, key);
  }
  getAttestationKey(deviceId: string) {
    return attestations.getAttestationKey(this.db, deviceId);
  }
  activateAttestationKey(deviceId: string, secretSha256: string) {
    return attestations.activateAttestationKey(this.db, deviceId, secretSha256);
  }
  renewActivationSecret(deviceId: string, secretSha256: string) {
    return attestations.renewActivationSecret(this.db, deviceId, secretSha256);
  }
  recordAttestation(input: Parameters<typeof attestations.recordAttestation>[1]) {
    return attestations.recordAttestation(this.db, input);
  }
  latestAttestation(deviceId: string, options?: { ok?: true }) {
    return attestations.latestAttestation(this.db, deviceId, options);
  }
  attestationHistory(deviceId: string, limit?: number) {
    return attestations.attestationHistory(this.db, deviceId, limit);
  }
  openQuarantine(input: Parameters<typeof attestations.openQuarantine>[1]) {
    return attestations.openQuarantine(this.db, input);
  }
  openQuarantineFor(deviceId: string) {
    return attestations.openQuarantineFor(this.db, deviceId);
  }
  listQuarantines(options?: { all?: boolean; deviceId?: string }) {
    return attestations.listQuarantines(this.db, options);
  }
  releaseQuarantine(deviceId: string, by: string, note: string | null) {
    return attestations.releaseQuarantine(this.db, deviceId, by, note);
  }
  lastQuarantineRelease(deviceId: string) {
    return attestations.lastQuarantineRelease(this.db, deviceId);
  }
  quarantinedDeviceIds() {
    return attestations.quarantinedDeviceIds(this.db);
  }

  // Desired state and drift (fleet/drift.ts)
  setDesiredState(input: Parameters<typeof drift.setDesiredState>[1]) {
    return drift.setDesiredState(this.db, input);
  }
  clearDesiredState(hardwareId: string, ring?: string) {
    return drift.clearDesiredState(this.db, hardwareId, ring);
  }
  listDesiredStates(hardwareId?: string) {
    return drift.listDesiredStates(this.db, hardwareId);
  }
  effectiveDesiredState(hardwareId: string, ring?: string) {
    return drift.effectiveDesiredState(this.db, hardwareId, ring);
  }
  reconcileDrift(deviceId: string, drifts: drift.ObservedDrift[], counter: number) {
    return drift.reconcileDrift(this.db, deviceId, drifts, counter);
  }
  listDriftEvents(options?: Parameters<typeof drift.listDriftEvents>[1]) {
    return drift.listDriftEvents(this.db, options);
  }

  // On-demand deltas (fleet/delta-requests.ts)
  requestDelta(r: deltaRequests.NewDeltaRequest) {
    return deltaRequests.requestDelta(this.db, r);
  }
  getDeltaRequest(key: deltaRequests.DeltaRequestKey) {
    return deltaRequests.getDeltaRequest(this.db, key);
  }
  claimDeltaRequests(limit: number, staleAfterSeconds: number) {
    return deltaRequests.claimDeltaRequests(this.db, limit, staleAfterSeconds);
  }
  recordDeltaOutcome(key: deltaRequests.DeltaRequestKey, outcome: deltaRequests.DeltaRequestOutcome) {
    return deltaRequests.recordDeltaOutcome(this.db, key, outcome);
  }
  touchDeltaRequest(key: deltaRequests.DeltaRequestKey, at?: Date) {
    return deltaRequests.touchDeltaRequest(this.db, key, at);
  }
  listDeltaRequests(filter?: { state?: deltaRequests.DeltaRequestState }) {
    return deltaRequests.listDeltaRequests(this.db, filter);
  }
  removeDeltaRequest(key: deltaRequests.DeltaRequestKey) {
    return deltaRequests.removeDeltaRequest(this.db, key);
  }
}
