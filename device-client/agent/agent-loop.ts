// One round of the device's life with the gateway, as a library call so a fleet simulator can run
// many devices in one process (each Device carries its own config, state dir, slots and key; the
// only process-wide state is the opt-in crash-point environment of the power-cut harness):
//   boot check (idempotent: commits or rejects a trial boot, records a fallback)  -> reports
//   finish an install a restart interrupted
//   signed check-in (fresh nonce) -> none | hold | update | rollback, acted on    -> reports
//   send queued reports in order (fresh nonce each, counter fixed at creation)
// `runAgentLoop` repeats it every pollAfterSeconds (with jitter) until its signal aborts.
import { otherSlot, type SlotName } from '../boot/boot-state.js';
import type { CheckinResponse, FailureKind } from '../../schemas/device-api.js';
import { ReleaseRejectedError } from '../../verification/errors.js';
import { buildReportBody, type ReportEvent } from '../reports/build-report.js';
import type { DeviceKey } from '../../schemas/device-envelope.js';
import { systemMetrics, type MetricsSampler } from '../reports/metrics.js';
import { ReportQueue } from '../reports/queue.js';
import { flushReports, type FlushResult } from '../reports/send-reports.js';
import { event } from './agent-state.js';
import { bootCheck, type BootCheckOptions, type BootCheckResult } from './boot-check.js';
import { writeCheckinRecord } from './checkin-record.js';
import type { Device } from './device.js';
import { DownloadError, type RetryPolicy } from './download.js';
import { deviceKeyFor, enrollDevice, readEnrollment } from './enroll.js';
import { GatewayClient, GatewayRefusedError, GatewayUnreachableError } from '../gateway/gateway-client.js';
import { downloadDirOf, GatewaySource, gatewaySourceRef, type GatewaySourceOptions } from './gateway-source.js';
import { installUpdate, resumeInstall, type InstallResult } from './install.js';
import { verifyCandidate } from './release-verification.js';
import { rollBack, type RollbackResult } from './rollback.js';
import { sourceOpener } from './sources.js';

export interface AgentOptions {
  /** Default: a client for config.gatewayUrl. */
  client?: GatewayClient;
  /** Default: stateDir/device-key.pem (made on first use). */
  key?: DeviceKey;
  /** Enroll first when the state dir has no enrollment record and a token is given. */
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
  | 'nothing' // gateway said none
  | 'held' // gateway said hold
  | 'installed' // update installed into the other slot; reboot to try it
  | 'up-to-date'
  | 'rolled-back' // rollback: boot switched back to the other slot, or the target reinstalled; reboot to try it
  | 'waiting-for-reboot' // an installed slot awaits its reboot: nothing new is started
  | 'failed' // the update or rollback failed (see failure)
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
  failure?: { kind: FailureKind; message: string; code?: string };
  /** Why the check-in did not happen (offline, refused). */
  error?: string;
  /** Counters of the reports queued during this round. */
  queued: number[];
  reports: FlushResult | { skipped: string };
  /** When to check in next (the gateway's word, else config.intervals.checkSeconds). */
  pollAfterSeconds: number;
}

interface Round {
  device: Device;
  queue: ReportQueue;
  metrics: MetricsSampler;
  queued: number[];
  log: (line: string) => void;
  signal?: AbortSignal;
}

async function queueReport(round: Round, report: ReportEvent): Promise<void> {
  const body = buildReportBody(round.device.config.deviceId, report, await round.metrics());
  const queued = await round.queue.enqueue(body);
  round.queued.push(queued.counter);
}

/** Which stage a failure belongs to, as reports name it. */
export function failureKindOf(error: unknown): FailureKind {
  if (error instanceof DownloadError || error instanceof GatewayUnreachableError || error instanceof GatewayRefusedError) return 'download';
  if (error instanceof ReleaseRejectedError) return 'verify';
  return 'install';
}

/** Runs the boot check and queues what it found: booted (trial), committed, failed (health), rolled-back. */
export async function bootCheckAndReport(device: Device, options: { metrics?: MetricsSampler; health?: BootCheckOptions } = {}): Promise<{ result: BootCheckResult; queued: number[] }> {
  const round: Round = { device, queue: new ReportQueue(device.config.stateDir), metrics: options.metrics ?? systemMetrics(device.config), queued: [], log: () => undefined };
  const booted = await device.bootedSlot();
  const before = await device.agentState.read();
  const boot = await device.boot.read();
  const image = before.slots[booted];
  if (!boot.good[booted] && image) await queueReport(round, { state: 'booted', releaseVersion: image.version, imageSha256: image.sha256, slot: booted });
  const result = await bootCheck(device, options.health);
  if (result.outcome === 'committed') {
    const committed = (await device.agentState.read()).slots[booted]!;
    await queueReport(round, { state: 'committed', releaseVersion: committed.version, imageSha256: committed.sha256, slot: booted });
  } else if (result.outcome === 'health-failed' && image) {
    await queueReport(round, { state: 'failed', failureKind: 'health', releaseVersion: image.version, imageSha256: image.sha256, slot: booted, detail: result.reason });
  } else if (result.outcome === 'rolled-back') {
    const failed = before.slots[result.failedSlot] ?? before.slots[booted];
    const running = before.slots[booted];
    if (failed && running) {
      await queueReport(round, {
        state: 'rolled-back',
        failureKind: result.failure,
        releaseVersion: result.failedVersion ?? failed.version,
        imageSha256: failed.sha256,
        slot: result.failedSlot,
        detail: `fell back to slot ${booted} (${running.version}): slot ${result.failedSlot} ${result.failure === 'health' ? 'failed its health check' : 'ran out of boot tries'}`,
      });
    }
  }
  return { result, queued: round.queued };
}

export async function checkInOnce(device: Device, options: AgentOptions = {}): Promise<CheckInResult> {
  const { config } = device;
  if (!config.gatewayUrl) throw new Error('no gatewayUrl in the device configuration');
  const log = options.log ?? (() => undefined);
  const client = options.client ?? new GatewayClient(config.gatewayUrl);
  const round: Round = { device, queue: new ReportQueue(config.stateDir), metrics: options.metrics ?? systemMetrics(config), queued: [], log, signal: options.signal };
  const retry: RetryPolicy = { ...config.download, ...options.retry };
  const result: CheckInResult = { deviceId: config.deviceId, outcome: 'nothing', queued: round.queued, reports: { skipped: 'not sent yet' }, pollAfterSeconds: config.intervals.checkSeconds };
  const sourceSettings = { stateDir: config.stateDir, retry, log, signal: options.signal };

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
      await recordFailure(round, result, error, undefined);
    }
  }

  const key = options.key ?? (await deviceKeyFor(config));
  try {
    if (options.enrollmentToken && !(await readEnrollment(config.stateDir))) await enrollDevice(config, { token: options.enrollmentToken, client });
    result.response = await client.checkin(key, await checkinBody(device));
    result.pollAfterSeconds = result.response.pollAfterSeconds;
  } catch (error) {
    if (!(error instanceof GatewayUnreachableError) && !(error instanceof GatewayRefusedError)) throw error;
    result.outcome = error instanceof GatewayUnreachableError ? 'offline' : 'refused';
    result.error = error.message;
  }

  if (result.response && !result.failure) await act(device, round, result, result.response, client, retry, options);

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
    outcome: result.failure ? `failed (${result.failure.kind}): ${result.failure.message}` : result.outcome,
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

async function act(device: Device, round: Round, result: CheckInResult, response: CheckinResponse, client: GatewayClient, retry: RetryPolicy, options: AgentOptions): Promise<void> {
  if (response.action === 'none') return void (result.outcome = 'nothing');
  if (response.action === 'hold') {
    round.log(`gateway says hold: ${response.reason}`);
    return void (result.outcome = 'held');
  }
  // An installed slot awaits its reboot: the gateway still sees the old version and offers again.
  const pending = (await device.agentState.read()).pendingBoot;
  if (pending) return void (result.outcome = 'waiting-for-reboot');

  const source = (offer?: { version: string; manifestUrl: string; bundleUrl: string }) =>
    new GatewaySource({ client, downloadDir: downloadDirOf(device.config.stateDir), retry, offer, random: options.random, signal: options.signal, log: round.log, onDownload: options.onDownload });
  const sourceRef = gatewaySourceRef(client.baseUrl);

  if (response.action === 'update') {
    const { release } = response;
    const update = source({ version: release.version, manifestUrl: release.manifestUrl, bundleUrl: release.bundleUrl });
    try {
      await verifyThenInstall(device, round, result, update, sourceRef, release.version, false);
    } finally {
      await update.close();
    }
    return;
  }

  // rollback
  const booted = await device.bootedSlot();
  const target = { version: response.targetVersion, imageSha256: response.targetImageSha256, reason: response.reason };
  const release = response.release;
  try {
    const rollback = await rollBack(
      device,
      target,
      release
        ? async () => {
            // Verify before touching anything: a target below the stored security version is refused here.
            const reinstall = source({ version: release.version, manifestUrl: release.manifestUrl, bundleUrl: release.bundleUrl });
            await verifyOffer(device, reinstall, release.version, true);
            return { source: reinstall, sourceRef };
          }
        : undefined,
      round.log,
    );
    result.rollback = rollback;
    if (rollback.outcome === 'already-running') return void (result.outcome = 'nothing');
    const agent = await device.agentState.read();
    const left = agent.slots[rollback.left.slot];
    if (left) {
      await queueReport(round, { state: 'rolled-back', releaseVersion: left.version, imageSha256: left.sha256, slot: rollback.left.slot, detail: `rollback ordered by the gateway: ${response.reason}` });
    }
    if (rollback.outcome === 'reinstalled') {
      result.install = rollback.install;
      await reportInstalled(round, rollback.install);
      await new GatewaySource({ client, downloadDir: downloadDirOf(device.config.stateDir), retry }).discardDownloads();
    } else {
      const image = agent.slots[rollback.slot]!;
      await queueReport(round, { state: 'installed', releaseVersion: image.version, imageSha256: image.sha256, slot: rollback.slot, detail: `switched back to slot ${rollback.slot}` });
    }
    result.outcome = 'rolled-back';
  } catch (error) {
    await recordFailure(round, result, error, { version: target.version, imageSha256: target.imageSha256, slot: otherSlot(booted) });
  }
}

/** The manifest verified against the pinned trust root and this device (nothing written). */
async function verifyOffer(device: Device, source: GatewaySource, version: string, allowVersionDowngrade: boolean) {
  const { config } = device;
  const agent = await device.agentState.read();
  const installed = agent.slots[await device.bootedSlot()];
  const candidate = await source.release(config.hardwareId, version);
  if (!candidate) throw new Error(`${source.description} has no release ${version}`);
  return verifyCandidate(
    candidate,
    config.trust,
    { hardwareId: config.hardwareId, version: installed?.version, securityVersion: agent.securityVersion, imageSha256: installed?.sha256 },
    new Date(),
    allowVersionDowngrade,
  );
}

async function verifyThenInstall(device: Device, round: Round, result: CheckInResult, source: GatewaySource, sourceRef: string, version: string, allowVersionDowngrade: boolean): Promise<void> {
  const target = otherSlot(await device.bootedSlot());
  let image: { version: string; imageSha256?: string; slot: SlotName } = { version, slot: target };
  try {
    const { manifest } = await verifyOffer(device, source, version, allowVersionDowngrade);
    image = { version: manifest.version, imageSha256: manifest.image.sha256, slot: target };
    await queueReport(round, { state: 'downloading', releaseVersion: manifest.version, imageSha256: manifest.image.sha256, slot: target });
    const install = await installUpdate(device, { source, sourceRef, version, allowVersionDowngrade, log: round.log });
    result.install = install;
    result.outcome = install.outcome === 'up-to-date' ? 'up-to-date' : 'installed';
    await reportInstalled(round, install);
    if (install.outcome === 'installed') await source.discardDownloads();
  } catch (error) {
    await recordFailure(round, result, error, image);
  }
}

async function reportInstalled(round: Round, install: InstallResult): Promise<void> {
  if (install.outcome !== 'installed' && install.outcome !== 'activated') return;
  const image = (await round.device.agentState.read()).slots[install.slot];
  if (image) await queueReport(round, { state: 'installed', releaseVersion: image.version, imageSha256: image.sha256, slot: install.slot });
}

/** A failed update: recorded in the agent state, reported (once per version and kind for verify refusals). */
async function recordFailure(round: Round, result: CheckInResult, error: unknown, about: { version: string; imageSha256?: string; slot: SlotName } | undefined): Promise<void> {
  // Stopped (SIGTERM): not a failure of the update; a download resumes at the next start.
  if (round.signal?.aborted) throw error;
  const kind = failureKindOf(error);
  const message = (error as Error).message;
  result.outcome = 'failed';
  result.failure = { kind, message, ...(error instanceof ReleaseRejectedError ? { code: error.code } : {}) };
  round.log(`update failed (${kind}): ${message}`);
  const agent = await round.device.agentState.read();
  const booted = await round.device.bootedSlot();
  const running = agent.slots[booted];
  const version = about?.version ?? running?.version;
  // A refused release stays refused: do not flood the gateway with the same report every poll.
  const repeated = kind === 'verify' && agent.lastEvent?.kind === 'failed' && agent.lastEvent.failure === kind && agent.lastEvent.version === version;
  await round.device.agentState.update((s) => ({ ...s, lastEvent: event('failed', { failure: kind, slot: about?.slot, version, reason: message }) }));
  if (repeated || !version || !running) return;
  await queueReport(round, {
    state: 'failed',
    failureKind: kind,
    releaseVersion: version,
    imageSha256: about?.imageSha256 ?? running.sha256,
    slot: about?.slot ?? booted,
    detail: `${error instanceof ReleaseRejectedError ? `${error.code}: ` : ''}${message}`,
  });
}

/**
 * The long-running agent: boot check, then a check-in every pollAfterSeconds scaled by
 * 1 ± config.intervals.checkJitter, until `signal` aborts (SIGTERM in the CLI). A failing round
 * is logged and retried at the next poll; it never ends the loop.
 */
export async function runAgentLoop(device: Device, options: AgentOptions & { signal: AbortSignal; onRound?: (result: CheckInResult) => void }): Promise<void> {
  const random = options.random ?? Math.random;
  const log = options.log ?? (() => undefined);
  const jitter = device.config.intervals.checkJitter;
  while (!options.signal.aborted) {
    let waitSeconds = device.config.intervals.checkSeconds;
    try {
      const result = await checkInOnce(device, options);
      options.onRound?.(result);
      waitSeconds = result.pollAfterSeconds;
    } catch (error) {
      if (options.signal.aborted) break;
      log(`check-in round failed: ${(error as Error).message}`);
    }
    const delayMs = Math.max(0, waitSeconds * 1000 * (1 + jitter * (2 * random() - 1)));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, delayMs);
      function done() {
        clearTimeout(timer);
        options.signal.removeEventListener('abort', done);
        resolve();
      }
      options.signal.addEventListener('abort', done, { once: true });
    });
  }
}
