// One round of the device's life with the gateway, as a library call so a fleet simulator can run
// many devices in one process (each Device carries its own config, state dir, slots and key; the
// only process-wide state is the opt-in crash-point environment of the power-cut harness):
//   boot check (idempotent: commits or rejects a trial boot, records a fallback)  -> reports
//   finish an install a restart interrupted
//   signed check-in (fresh nonce) -> none | hold | update | rollback, acted on    -> reports
//   send queued reports in order (fresh nonce each, counter fixed at creation)
import type { CheckinResponse } from '../../schemas/device-api.js';
import type { DeviceSigner } from '../../schemas/device-envelope.js';
import { GatewayAnswerRefusedError } from '../gateway/answer-verification.js';
import { GatewayClient, GatewayRefusedError, GatewayUnreachableError } from '../gateway/gateway-client.js';
import { deviceGatewayClient, ensureDeviceCertificate, type CertificateStatus } from './device-certificate.js';
import { loadAnswerKeys } from './answer-key.js';
import type { MetricsSampler } from '../reports/metrics.js';
import { flushReports, type FlushResult } from '../reports/send-reports.js';
import { actOnOffer, type OfferOutcome } from './act-on-offer.js';
import type { BootCheckOptions, BootCheckResult } from './boot-check.js';
import { writeCheckinRecord } from './checkin-record.js';
import type { Device } from './device.js';
import type { RetryPolicy } from './download.js';
import { deviceKeyFor, enrollDevice, hasEnrollmentCredential, readEnrollment } from './enroll.js';
import type { GatewaySourceOptions } from './gateway-source.js';
import { resumeInstall, type InstallResult } from './install.js';
import { bootCheckAndReport, recordFailure, reportInstalled, startRound, type UpdateFailure } from './report-outcome.js';
import type { RollbackResult } from './rollback.js';
import { sourceOpener } from './sources.js';
import { refreshTrustFromGateway, type TrustRefresh } from './trust-refresh.js';

export interface AgentOptions {
  /** Default: a client for config.gatewayUrl. */
  client?: GatewayClient;
  /** Default: stateDir/device-key.pem (made on first use). */
  key?: DeviceSigner;
  /** Enroll first when the state dir has no enrollment record and a token is given (or one was provisioned, or a factory identity). */
  enrollmentToken?: string;
  /** Figures for reports; default: the system's (a simulator passes one per device). */
  metrics?: MetricsSampler;
  /** Overrides of config.download (attempts, backoff, stall timeout). */
  retry?: Partial<RetryPolicy>;
  /** [0, 1) for backoff and poll jitter. */
  random?: () => number;
  /** false: skip the boot check (the caller ran it). Options replace the configured health checks. */
  bootCheck?: false | BootCheckOptions;
  signal?: AbortSignal;
  log?: (line: string) => void;
  onDownload?: GatewaySourceOptions['onDownload'];
}

export type CheckInOutcome =
  | OfferOutcome
  | 'offline' // gateway unreachable: reports stay queued
  | 'refused'; // gateway refused the check-in (not enrolled, revoked, ...)

export interface CheckInResult {
  deviceId: string;
  bootCheck?: BootCheckResult;
  resumed?: InstallResult;
  outcome: CheckInOutcome;
  response?: CheckinResponse;
  install?: InstallResult;
  rollback?: RollbackResult;
  failure?: UpdateFailure;
  /** Outcome declined: the offered release failed its boot check here before. */
  declined?: { version: string; reason: string };
  /** The walk of the gateway's TUF metadata after the check-in (a device pinning a TUF root). */
  trust?: TrustRefresh;
  /** The device's client certificate after this round (mTLS gateways). */
  certificate?: CertificateStatus & { error?: string };
  /** Why the check-in did not happen (offline, refused). */
  error?: string;
  /** An answer refused as untrusted (GATEWAY_ANSWER_*): the round counts as offline, nothing is acted on. */
  errorCode?: string;
  /** Counters of the reports queued during this round. */
  queued: number[];
  reports: FlushResult | { skipped: string };
  /** When to check in next (the gateway's word, else config.intervals.checkSeconds). */
  pollAfterSeconds: number;
}

export async function checkInOnce(device: Device, options: AgentOptions = {}): Promise<CheckInResult> {
  const { config } = device;
  if (!config.gatewayUrl) throw new Error('no gatewayUrl in the device configuration');
  const log = options.log ?? (() => undefined);
  const client = options.client ?? deviceGatewayClient(config);
  const round = startRound(device, { metrics: options.metrics, log, signal: options.signal });
  const retry: RetryPolicy = { ...config.download, ...options.retry };
  // Fields are added in the order they happen (the --json output keeps that order).
  const result: CheckInResult = { deviceId: config.deviceId, outcome: 'nothing', queued: round.queued, reports: { skipped: 'not sent yet' }, pollAfterSeconds: config.intervals.checkSeconds };
  const sourceSettings = { stateDir: config.stateDir, retry, log, signal: options.signal, clientFor: (url: string) => deviceGatewayClient(config, url) };

  if (options.bootCheck !== false) {
    const checked = await bootCheckAndReport(device, { metrics: round.metrics, health: options.bootCheck });
    round.queued.push(...checked.queued);
    result.bootCheck = checked.result;
  }
  if (await device.journal.read()) {
    try {
      result.resumed = await resumeInstall(device, sourceOpener(device.scratchDir, sourceSettings), log);
      await reportInstalled(round, result.resumed);
    } catch (error) {
      result.outcome = 'failed';
      result.failure = await recordFailure(round, error, undefined);
    }
  }

  const key = options.key ?? (await deviceKeyFor(config));
  try {
    if (!(await readEnrollment(config.stateDir)) && (options.enrollmentToken || (await hasEnrollmentCredential(config.stateDir)))) await enrollDevice(config, { token: options.enrollmentToken, client });
    // Renewed well before expiry (2/3 of its lifetime); a failed renewal keeps the valid one.
    result.certificate = await ensureDeviceCertificate(config, client, key).catch((error: Error) => {
      log(`device certificate not renewed: ${error.message}`);
      return { action: 'kept' as const, error: error.message };
    });
    result.response = await client.checkin(key, await checkinBody(device), await loadAnswerKeys(config));
    result.pollAfterSeconds = result.response.pollAfterSeconds;
  } catch (error) {
    if (!(error instanceof GatewayUnreachableError) && !(error instanceof GatewayRefusedError) && !(error instanceof GatewayAnswerRefusedError)) throw error;
    result.outcome = error instanceof GatewayRefusedError ? 'refused' : 'offline';
    result.error = error.message;
    if (error instanceof GatewayUnreachableError && error.code === 'GATEWAY_CERTIFICATE_UNTRUSTED') result.errorCode = error.code;
    if (error instanceof GatewayAnswerRefusedError) {
      result.errorCode = error.code;
      log(`${error.code}: ${error.message}`);
    }
  }

  if (result.response) {
    // Also when nothing is offered: rotations and revocations arrive, a freeze is noticed.
    result.trust = await refreshTrustFromGateway(config, client).catch((error: Error) => ({ outcome: 'refused' as const, code: 'UNREACHABLE', message: error.message }));
    if (result.trust.outcome === 'refused') log(`TUF metadata from the gateway refused: ${result.trust.message}${result.trust.frozen ? ` (frozen for ${result.trust.frozen.seconds} s)` : ''}`);
  }
  if (result.response && !result.failure) {
    Object.assign(result, await actOnOffer({ round, response: result.response, client, retry, random: options.random, onDownload: options.onDownload }));
  }

  result.reports =
    result.outcome === 'offline' ? { skipped: 'gateway unreachable; reports stay queued' } : await flushReports(round.queue, client, key, log);
  await writeCheckinRecord(config.stateDir, {
    at: new Date().toISOString(),
    gatewayUrl: client.baseUrl,
    result: result.outcome === 'offline' ? 'offline' : result.outcome === 'refused' ? 'refused' : 'ok',
    action: result.response?.action,
    version: result.response?.action === 'update' ? result.response.release.version : result.response?.action === 'rollback' ? result.response.targetVersion : undefined,
    rolloutId: result.response && 'rolloutId' in result.response ? result.response.rolloutId : undefined,
    reason: result.response && 'reason' in result.response ? result.response.reason : result.error,
    outcome: result.failure ? `failed (${result.failure.kind}): ${result.failure.message}` : result.declined ? `declined ${result.declined.version}: ${result.declined.reason}` : result.outcome,
    pollAfterSeconds: result.pollAfterSeconds,
  });
  return result;
}

async function checkinBody(device: Device) {
  const { config } = device;
  const booted = await device.bootedSlot();
  const agent = await device.agentState.read();
  const image = agent.slots[booted];
  if (!image) throw new Error(`slot ${booted} holds no image this agent verified; provision the device first`);
  return {
    type: 'checkin' as const,
    deviceId: config.deviceId,
    hardwareId: config.hardwareId,
    currentVersion: image.version,
    imageSha256: image.sha256,
    bootedSlot: booted,
    securityVersion: agent.securityVersion,
    supportedDeltaFormats: config.deltas.formats,
  };
}
