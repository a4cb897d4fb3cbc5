// What a health report says, built from the agent's own state at the moment something changed
// (downloading, installed, booted, committed, rolled-back, failed). Counter and nonce are not part
// of this body: the queue reserves the counter, the sender adds a fresh nonce and signs.
import type { FailureKind, Frozen, HealthReportBody, ReportState, SlotName } from '../../schemas/device-api.js';
import type { MetricsSample } from './metrics.js';

export interface ReportEvent {
  state: ReportState;
  failureKind?: FailureKind;
  /** The release the report is about (being installed, or running). */
  releaseVersion: string;
  imageSha256: string;
  slot: SlotName;
  detail?: string;
  /** The device has no fresh TUF metadata (device-trust.ts frozenSince). */
  frozen?: Frozen;
}

const MAX_DETAIL = 2000;

export function buildReportBody(deviceId: string, event: ReportEvent, sample: MetricsSample, now = new Date()): HealthReportBody {
  // failureKind only where the contract allows it (failed: required; rolled-back: optional).
  const failureKind = event.state === 'failed' || event.state === 'rolled-back' ? event.failureKind : undefined;
  return {
    type: 'report',
    deviceId,
    releaseVersion: event.releaseVersion,
    imageSha256: event.imageSha256,
    slot: event.slot,
    bootCount: sample.bootCount,
    state: event.state,
    ...(failureKind ? { failureKind } : event.state === 'failed' ? { failureKind: 'install' as const } : {}),
    ...(event.detail ? { detail: event.detail.length > MAX_DETAIL ? `${event.detail.slice(0, MAX_DETAIL - 1)}…` : event.detail } : {}),
    ...(event.frozen ? { frozen: event.frozen } : {}),
    metrics: sample.metrics,
    custom: sample.custom,
    createdAt: now.toISOString(),
  };
}
