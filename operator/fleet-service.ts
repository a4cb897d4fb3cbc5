// Devices as the operator API and `ota fleet` show them, and the two changes an operator makes to
// one: revoke (refuse every further request) and retry (offer a failed release again).
import type { DeviceWithState, FleetStore } from '../fleet/fleet-store.js';
import { offerEligibility } from '../gateway/offer-eligibility.js';
import { OperatorError } from './errors.js';

export function deviceSummary(d: DeviceWithState) {
  return {
    id: d.id,
    hardwareId: d.hardwareId,
    channel: d.channel,
    labels: d.labels,
    keyAlgorithm: d.keyAlgorithm,
    enrolledAt: d.enrolledAt.toISOString(),
    revokedAt: d.revokedAt?.toISOString() ?? null,
    currentVersion: d.state.currentVersion,
    slot: d.state.slot,
    securityVersion: d.state.securityVersion,
    lastState: d.state.state,
    failureKind: d.state.failureKind,
    releaseVersion: d.state.releaseVersion,
    lastCheckinAt: d.state.lastCheckinAt?.toISOString() ?? null,
    lastReportAt: d.state.lastReportAt?.toISOString() ?? null,
    lastCounter: d.state.lastCounter,
  };
}
export type DeviceSummary = ReturnType<typeof deviceSummary>;

export async function listDeviceSummaries(fleet: FleetStore): Promise<DeviceSummary[]> {
  return (await fleet.listDevices()).map(deviceSummary);
}

/** One device with its latest reports and heartbeats, and why a release is not offered to it (the gateway's own rule). */
export async function deviceDetail(fleet: FleetStore, id: string, limit = 20) {
  const device = await fleet.getDeviceWithState(id);
  if (!device) throw new OperatorError('NOT_FOUND', `no device ${id} in the fleet store`);
  const assignment = await fleet.openAssignmentFor(id);
  const eligibility = assignment ? offerEligibility(assignment.releaseVersion, assignment.rolloutId, id, await fleet.attemptFailures(assignment.rolloutId, id)) : undefined;
  const offerBlocked = assignment && eligibility && !eligibility.offer ? { rolloutId: assignment.rolloutId, releaseVersion: assignment.releaseVersion, kind: eligibility.kind, reason: eligibility.reason } : null;
  return { ...deviceSummary(device), offerBlocked, reports: await fleet.reportsOf(id, limit), heartbeats: await fleet.heartbeatsOf(id, limit) };
}
export type DeviceDetail = Awaited<ReturnType<typeof deviceDetail>>;

export async function revokeFleetDevice(fleet: FleetStore, id: string, reason: string) {
  if (!(await fleet.revokeDevice(id, reason))) throw new OperatorError('NOT_FOUND', `no enrolled, unrevoked device ${id}`);
  return { deviceId: id, revoked: true };
}

export async function retryFleetDevice(fleet: FleetStore, id: string, release?: string) {
  if (!(await fleet.getDevice(id))) throw new OperatorError('NOT_FOUND', `no device ${id} in the fleet store`);
  const cleared = await fleet.retryDevice(id, release);
  if (cleared.length === 0) throw new OperatorError('NOT_FOUND', `device ${id} has no assignment in an open or finished rollout${release ? ` of release ${release}` : ''}`);
  return { deviceId: id, cleared };
}

/** Pending and rejected factory-identity devices (`ota fleet admissions`), without their keys and certificates. */
export async function listAdmissionSummaries(fleet: FleetStore) {
  return (await fleet.listAdmissionRequests()).map((r) => ({ deviceId: r.deviceId, hardwareId: r.hardwareId, keyAlgorithm: r.keyAlgorithm, factoryCa: r.factoryCa, state: r.state, requestedAt: r.requestedAt.toISOString(), decidedAt: r.decidedAt?.toISOString() ?? null }));
}

/** Admits a pending device with the operator's selectors (default: its factory CA's), as `ota fleet accept`. */
export async function acceptFleetDevice(fleet: FleetStore, id: string, selectors: { channel?: string; labels?: Record<string, string> }) {
  const outcome = await fleet.acceptDevice(id, selectors);
  if (outcome.kind === 'not-pending') throw new OperatorError(outcome.state === 'unknown' ? 'NOT_FOUND' : 'CONFLICT', `device ${id} is not pending (it is ${outcome.state})`);
  return { deviceId: id, accepted: true, hardwareId: outcome.device.hardwareId, channel: outcome.device.channel, labels: outcome.device.labels };
}

/** Refuses a pending device from now on, as `ota fleet reject`. */
export async function rejectFleetDevice(fleet: FleetStore, id: string) {
  if (!(await fleet.rejectDevice(id))) {
    const state = await fleet.admissionState(id);
    throw new OperatorError(state === 'unknown' ? 'NOT_FOUND' : 'CONFLICT', `device ${id} is not pending (it is ${state})`);
  }
  return { deviceId: id, rejected: true };
}

/** Quarantines with their evidence (open ones; all: released too), newest first. */
export async function listQuarantineSummaries(fleet: FleetStore, all = false) {
  return (await fleet.listQuarantines({ all })).map((q) => ({ ...q, since: q.since.toISOString(), releasedAt: q.releasedAt?.toISOString() ?? null }));
}

/** Ends a device's open quarantine after remediation, recorded with who released it (`ota fleet quarantine release`). */
export async function releaseFleetQuarantine(fleet: FleetStore, id: string, by: string, note: string | null) {
  const released = await fleet.releaseQuarantine(id, by, note);
  if (!released) throw new OperatorError('NOT_FOUND', `device ${id} has no open quarantine`);
  return { deviceId: id, released: true, code: released.code, releasedBy: by, releaseNote: note };
}
