// The reports an agent round queues for what happened to the device: what the boot check found
// (booted, committed, failed, rolled-back), an install that landed, and a failed update. They are
// queued on disk with a fixed counter and go out, in order, with the next flush (send-reports.ts).
import type { FailureKind, SlotName } from '../../schemas/device-api.js';
import { TrustError, TufMetadataExpiredError } from '../../trust/errors.js';
import { tufTime } from '../../trust/metadata.js';
import { ReleaseRejectedError } from '../../verification/errors.js';
import { GatewayRefusedError, GatewayUnreachableError } from '../gateway/gateway-client.js';
import { buildReportBody, type ReportEvent } from '../reports/build-report.js';
import { systemMetrics, type MetricsSampler } from '../reports/metrics.js';
import { ReportQueue } from '../reports/queue.js';
import { event } from './agent-state.js';
import { bootCheck, type BootCheckOptions, type BootCheckResult } from './boot-check.js';
import type { Device } from './device.js';
import { frozenSince, readDeviceTrust } from './device-trust.js';
import { DownloadError } from './download.js';
import type { InstallResult } from './install.js';

/** What one round of the agent carries: the device, its report queue, and the counters queued so far. */
export interface AgentRound {
  device: Device;
  queue: ReportQueue;
  metrics: MetricsSampler;
  queued: number[];
  log: (line: string) => void;
  signal?: AbortSignal;
}

export function startRound(device: Device, options: { metrics?: MetricsSampler; log?: (line: string) => void; signal?: AbortSignal } = {}): AgentRound {
  const { config } = device;
  return { device, queue: new ReportQueue(config.stateDir), metrics: options.metrics ?? systemMetrics(config), queued: [], log: options.log ?? (() => undefined), signal: options.signal };
}

/** A failed update as the round's result names it. */
export interface UpdateFailure {
  kind: FailureKind;
  message: string;
  code?: string;
}

/** The image a failure is about (the offered release), when known. */
export interface FailedImage {
  version: string;
  imageSha256?: string;
  slot: SlotName;
}

export async function queueReport(round: AgentRound, report: ReportEvent): Promise<void> {
  // Every report of a frozen device says so, with how long (what `ota fleet show` shows).
  const now = new Date();
  const frozen = frozenSince(await readDeviceTrust(round.device.config).catch(() => undefined), now) ?? report.frozen;
  const body = buildReportBody(round.device.config.deviceId, { ...report, ...(frozen && { frozen }) }, await round.metrics(), now);
  const queued = await round.queue.enqueue(body);
  round.queued.push(queued.counter);
}

/** Which stage a failure belongs to, as reports name it. */
export function failureKindOf(error: unknown): FailureKind {
  if (error instanceof DownloadError || error instanceof GatewayUnreachableError || error instanceof GatewayRefusedError) return 'download';
  if (error instanceof ReleaseRejectedError || error instanceof TrustError) return 'verify';
  return 'install';
}

/** Runs the boot check and queues what it found: booted (trial), committed, failed (health), rolled-back. */
export async function bootCheckAndReport(device: Device, options: { metrics?: MetricsSampler; health?: BootCheckOptions } = {}): Promise<{ result: BootCheckResult; queued: number[] }> {
  const round = startRound(device, { metrics: options.metrics });
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

export async function reportInstalled(round: AgentRound, install: InstallResult): Promise<void> {
  if (install.outcome !== 'installed' && install.outcome !== 'activated') return;
  const image = (await round.device.agentState.read()).slots[install.slot];
  if (image) await queueReport(round, { state: 'installed', releaseVersion: image.version, imageSha256: image.sha256, slot: install.slot });
}

/** A failed update: recorded in the agent state, reported (once per version and kind for verify refusals). */
export async function recordFailure(round: AgentRound, error: unknown, about: FailedImage | undefined): Promise<UpdateFailure> {
  // Stopped (SIGTERM): not a failure of the update; a download resumes at the next start.
  if (round.signal?.aborted) throw error;
  const kind = failureKindOf(error);
  const message = (error as Error).message;
  const coded = error instanceof ReleaseRejectedError || error instanceof TrustError ? error : undefined;
  const failure: UpdateFailure = { kind, message, ...(coded ? { code: coded.code } : {}) };
  round.log(`update failed (${kind}): ${message}`);
  const agent = await round.device.agentState.read();
  const booted = await round.device.bootedSlot();
  const running = agent.slots[booted];
  const version = about?.version ?? running?.version;
  // A refused release stays refused: do not flood the gateway with the same report every poll.
  const repeated = kind === 'verify' && agent.lastEvent?.kind === 'failed' && agent.lastEvent.failure === kind && agent.lastEvent.version === version;
  await round.device.agentState.update((s) => ({ ...s, lastEvent: event('failed', { failure: kind, slot: about?.slot, version, reason: message }) }));
  if (repeated || !version || !running) return failure;
  await queueReport(round, {
    state: 'failed',
    failureKind: kind,
    releaseVersion: version,
    imageSha256: about?.imageSha256 ?? running.sha256,
    slot: about?.slot ?? booted,
    detail: coded && !message.startsWith(coded.code) ? `${coded.code}: ${message}` : message,
    // Refused for expired metadata before the device ever trusted a timestamp: frozen from now on.
    ...(error instanceof TufMetadataExpiredError && { frozen: { since: tufTime(new Date()), seconds: 0 } }),
  });
  return failure;
}
