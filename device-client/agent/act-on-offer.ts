// What the agent does with the gateway's answer to a check-in:
//   none -> nothing; hold -> stay; an installed slot awaiting its reboot -> start nothing new
//   update -> verify the offered manifest offline, report downloading, install into the other slot
//   rollback -> switch boot back to the other slot, or reinstall the target (downgrade allowed)
// Each path queues its reports and returns what it did; failures are recorded and reported.
import { otherSlot } from '../boot/boot-state.js';
import { offerRefusal } from './agent-state.js';
import type { CheckinResponse } from '../../schemas/device-api.js';
import type { GatewayClient } from '../gateway/gateway-client.js';
import type { Device } from './device.js';
import type { RetryPolicy } from './download.js';
import { downloadDirOf, GatewaySource, gatewaySourceRef, type GatewaySourceOptions, type OfferedRelease } from './gateway-source.js';
import { installUpdate, type InstallResult } from './install.js';
import { verifyCandidate } from './release-verification.js';
import { queueReport, recordFailure, reportInstalled, type AgentRound, type FailedImage, type UpdateFailure } from './report-outcome.js';
import { rollBack, type RollbackResult } from './rollback.js';

export type OfferOutcome =
  | 'nothing' // gateway said none
  | 'held' // gateway said hold
  | 'installed' // update installed into the other slot; reboot to try it
  | 'up-to-date'
  | 'rolled-back' // rollback: boot switched back to the other slot, or the target reinstalled; reboot to try it
  | 'waiting-for-reboot' // an installed slot awaits its reboot: nothing new is started
  | 'declined' // the offered release failed its boot check here before (see declined); ota-device retry clears it
  | 'failed'; // the update or rollback failed (see failure)

export interface OfferResult {
  outcome: OfferOutcome;
  install?: InstallResult;
  rollback?: RollbackResult;
  failure?: UpdateFailure;
  /** Set with outcome 'declined': the offered release and why the agent will not install it. */
  declined?: { version: string; reason: string };
}

export interface ActOnOfferContext {
  round: AgentRound;
  response: CheckinResponse;
  client: GatewayClient;
  retry: RetryPolicy;
  /** [0, 1) for download backoff. */
  random?: () => number;
  onDownload?: GatewaySourceOptions['onDownload'];
}

type RollbackResponse = Extract<CheckinResponse, { action: 'rollback' }>;

export async function actOnOffer(ctx: ActOnOfferContext): Promise<OfferResult> {
  const { round, response } = ctx;
  if (response.action === 'none') {
    if (response.reason) round.log(`gateway: nothing to do: ${response.reason}`);
    return { outcome: 'nothing' };
  }
  if (response.action === 'hold') {
    round.log(`gateway says hold: ${response.reason}`);
    return { outcome: 'held' };
  }
  // An installed slot awaits its reboot: the gateway still sees the old version and offers again.
  const pending = (await round.device.agentState.read()).pendingBoot;
  if (pending) return { outcome: 'waiting-for-reboot' };

  if (response.action === 'rollback') return actOnRollback(ctx, response);
  const { release } = response;
  // A release that failed its boot check here is not installed again from an offer (the gateway
  // should not offer it; this holds even when it does) until an operator clears it.
  const refusal = offerRefusal(await round.device.agentState.read(), release.version);
  if (refusal) {
    round.log(`declining ${release.version}: ${refusal}`);
    return { outcome: 'declined', declined: { version: release.version, reason: refusal } };
  }
  const update = gatewaySource(ctx, { version: release.version, manifestUrl: release.manifestUrl, bundleUrl: release.bundleUrl });
  try {
    return await verifyThenInstall(ctx.round, update, gatewaySourceRef(ctx.client.baseUrl), release.version);
  } finally {
    await update.close();
  }
}

function gatewaySource(ctx: ActOnOfferContext, offer?: OfferedRelease): GatewaySource {
  const { round } = ctx;
  return new GatewaySource({ client: ctx.client, downloadDir: downloadDirOf(round.device.config.stateDir), retry: ctx.retry, offer, random: ctx.random, signal: round.signal, log: round.log, onDownload: ctx.onDownload });
}

/** Records the failure and returns it with whatever was already done (kept in the result). */
async function failed(round: AgentRound, error: unknown, about: FailedImage | undefined, done: Omit<OfferResult, 'outcome' | 'failure'>): Promise<OfferResult> {
  const failure = await recordFailure(round, error, about);
  return { ...done, outcome: 'failed', failure };
}

async function actOnRollback(ctx: ActOnOfferContext, response: RollbackResponse): Promise<OfferResult> {
  const { round } = ctx;
  const { device } = round;
  const booted = await device.bootedSlot();
  const target = { version: response.targetVersion, imageSha256: response.targetImageSha256, reason: response.reason };
  const release = response.release;
  let rollback: RollbackResult | undefined;
  let install: InstallResult | undefined;
  try {
    rollback = await rollBack(
      device,
      target,
      release
        ? async () => {
            // Verify before touching anything: a target below the stored security version is refused here.
            const reinstall = gatewaySource(ctx, { version: release.version, manifestUrl: release.manifestUrl, bundleUrl: release.bundleUrl });
            await verifyOffer(device, reinstall, release.version, true);
            return { source: reinstall, sourceRef: gatewaySourceRef(ctx.client.baseUrl) };
          }
        : undefined,
      round.log,
    );
    if (rollback.outcome === 'already-running') return { rollback, outcome: 'nothing' };
    const agent = await device.agentState.read();
    const left = agent.slots[rollback.left.slot];
    if (left) {
      await queueReport(round, { state: 'rolled-back', releaseVersion: left.version, imageSha256: left.sha256, slot: rollback.left.slot, detail: `rollback ordered by the gateway: ${response.reason}` });
    }
    if (rollback.outcome === 'reinstalled') {
      install = rollback.install;
      await reportInstalled(round, rollback.install);
      await gatewaySource(ctx).discardDownloads();
    } else {
      const image = agent.slots[rollback.slot]!;
      await queueReport(round, { state: 'installed', releaseVersion: image.version, imageSha256: image.sha256, slot: rollback.slot, detail: `switched back to slot ${rollback.slot}` });
    }
    return { rollback, ...(install && { install }), outcome: 'rolled-back' };
  } catch (error) {
    return failed(round, error, { version: target.version, imageSha256: target.imageSha256, slot: otherSlot(booted) }, { ...(rollback && { rollback }), ...(install && { install }) });
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
    config,
    { hardwareId: config.hardwareId, channel: config.channel, version: installed?.version, securityVersion: agent.securityVersion, imageSha256: installed?.sha256 },
    new Date(),
    allowVersionDowngrade,
  );
}

async function verifyThenInstall(round: AgentRound, source: GatewaySource, sourceRef: string, version: string): Promise<OfferResult> {
  const { device } = round;
  const target = otherSlot(await device.bootedSlot());
  const allowVersionDowngrade = false;
  let image: FailedImage = { version, slot: target };
  let install: InstallResult | undefined;
  try {
    const { manifest } = await verifyOffer(device, source, version, allowVersionDowngrade);
    image = { version: manifest.version, imageSha256: manifest.image.sha256, slot: target };
    await queueReport(round, { state: 'downloading', releaseVersion: manifest.version, imageSha256: manifest.image.sha256, slot: target });
    install = await installUpdate(device, { source, sourceRef, version, allowVersionDowngrade, log: round.log });
    const outcome = install.outcome === 'up-to-date' ? 'up-to-date' : 'installed';
    await reportInstalled(round, install);
    if (install.outcome === 'installed') await source.discardDownloads();
    return { install, outcome };
  } catch (error) {
    return failed(round, error, image, { ...(install && { install }) });
  }
}
