// After a boot: which slot runs, and what to do about it.
//   trial boot of a new slot  -> health checks: pass -> markGood (commit), record the version and
//                                raise the stored security version; fail -> markBad, so the next
//                                boot falls back to the committed slot
//   committed slot, but the activated one is out of the rotation -> it was rolled back (health
//                                failure, or the bootloader ran out of tries): record that
//   committed slot, activated one still pending -> waiting for the reboot
// Every step is idempotent, so a power cut in the middle just means running it again.
import { markBad, markGood, otherSlot, type BootState, type SlotName } from '../boot/boot-state.js';
import { describeFailures, runHealthChecks, type HealthCheckSummary } from '../health/health-checks.js';
import { event, withFailedRelease, type AgentState } from './agent-state.js';
import { outOfRotation, writeBootState } from './boot-writes.js';
import { crashPoint } from './crash-points.js';
import type { Device } from './device.js';
import { finishActivation } from './install.js';
import { stepReached } from './install-journal.js';

export type BootCheckResult =
  | { outcome: 'committed'; slot: SlotName; version: string; securityVersion: number; health?: HealthCheckSummary }
  | { outcome: 'health-failed'; slot: SlotName; version?: string; reason: string; health?: HealthCheckSummary; rebootToFallBack: true }
  | { outcome: 'rolled-back'; slot: SlotName; failedSlot: SlotName; failedVersion?: string; failure: 'health' | 'boot' }
  | { outcome: 'waiting-for-reboot'; slot: SlotName; pendingSlot: SlotName }
  | { outcome: 'ok'; slot: SlotName; version?: string };

export interface BootCheckOptions {
  /** Replaces the configured health checks (tests, `mark-good`). */
  health?: () => Promise<HealthCheckSummary>;
}

export async function bootCheck(device: Device, options: BootCheckOptions = {}): Promise<BootCheckResult> {
  const booted = await device.bootedSlot();
  const journal = await device.journal.read();
  // The install activated this slot and the power went before it recorded so: finish that first.
  if (journal && journal.target === booted && stepReached(journal, 'written')) await finishActivation(device, journal);
  const boot = await device.boot.read();
  const agent = await device.agentState.read();

  if (!boot.good[booted]) return checkTrialBoot(device, booted, agent, options);

  const pending = agent.pendingBoot;
  if (pending && pending.slot === booted) {
    // Committed in the boot state, but the cut came before the agent state said so.
    return commitRecord(device, booted, agent);
  }
  if (pending && outOfRotation(boot, pending.slot)) {
    const failedBefore = agent.lastEvent?.kind === 'failed' && agent.lastEvent.slot === pending.slot ? agent.lastEvent.failure : undefined;
    const failure = failedBefore === 'health' ? 'health' : 'boot';
    const failedVersion = agent.slots[pending.slot]?.version;
    // Put the failed slot behind us in the boot order (the bootloader left it first after running out of tries).
    if (boot.order[0] !== booted) await writeBootState(device, 'boot-check:fallback', (s) => markBad(s, pending.slot));
    const reason = failure === 'health' ? (failedBefore === 'health' && agent.lastEvent?.reason ? agent.lastEvent.reason : 'failed its health check') : 'ran out of boot tries';
    await device.agentState.update((s) => {
      const next: AgentState = {
        ...s,
        pendingBoot: null,
        lastEvent: event('rolled-back', { failure, slot: pending.slot, version: failedVersion, reason: failure === 'health' ? 'failed its health check' : 'ran out of boot tries' }),
      };
      // Remembered: a later offer of this release is refused until `ota-device retry`.
      const image = s.slots[pending.slot];
      return failedVersion ? withFailedRelease(next, { version: failedVersion, ...(image ? { imageSha256: image.sha256 } : {}), failure, reason, at: new Date().toISOString() }) : next;
    });
    crashPoint('boot-check:rollback-recorded');
    return { outcome: 'rolled-back', slot: booted, failedSlot: pending.slot, failedVersion, failure };
  }
  if (pending) return { outcome: 'waiting-for-reboot', slot: booted, pendingSlot: pending.slot };
  return { outcome: 'ok', slot: booted, version: agent.slots[booted]?.version };
}

async function checkTrialBoot(device: Device, booted: SlotName, agent: AgentState, options: BootCheckOptions): Promise<BootCheckResult> {
  const image = agent.slots[booted];
  if (!image) {
    // Nothing we installed and verified: never commit an unknown image.
    return rejectTrialBoot(device, booted, undefined, `slot ${booted} holds no image this agent installed and verified`, 'boot');
  }
  const health = await (options.health ?? (() => runHealthChecks(device.config.health)))();
  crashPoint('boot-check:health-checked');
  if (!health.ok) return rejectTrialBoot(device, booted, image.version, `health check failed: ${describeFailures(health)}`, 'health', health);
  // One atomic write: commit the new slot, and take the other out of the rotation if its image is
  // below the new security version (falling back to it would be a rollback).
  const other = otherSlot(booted);
  const otherImage = agent.slots[other];
  const retireOther = otherImage !== null && otherImage.securityVersion < image.securityVersion;
  await writeBootState(device, 'boot-check:commit', (s) => {
    const committed = markGood(s, booted, device.config.bootTries);
    return retireOther && !outOfRotation(committed, other) ? retireSlot(committed, other) : committed;
  });
  return { ...(await commitRecord(device, booted, agent)), health };
}

/** markBad for the non-booted slot, keeping the booted (committed) slot first. */
function retireSlot(state: BootState, slot: SlotName): BootState {
  return markBad(state, slot);
}

async function commitRecord(device: Device, booted: SlotName, agent: AgentState): Promise<Extract<BootCheckResult, { outcome: 'committed' }>> {
  const image = agent.slots[booted]!;
  const next = await device.agentState.update((s) => ({
    ...s,
    securityVersion: Math.max(s.securityVersion, image.securityVersion),
    pendingBoot: null,
    lastEvent: event('committed', { slot: booted, version: image.version }),
  }));
  crashPoint('boot-check:commit-recorded');
  return { outcome: 'committed', slot: booted, version: image.version, securityVersion: next.securityVersion };
}

export async function rejectTrialBoot(
  device: Device,
  booted: SlotName,
  version: string | undefined,
  reason: string,
  failure: 'health' | 'boot',
  health?: HealthCheckSummary,
): Promise<BootCheckResult> {
  await writeBootState(device, 'boot-check:reject', (s) => markBad(s, booted));
  // pendingBoot stays: the boot check after the fallback reports the rollback.
  await device.agentState.update((s) => ({
    ...s,
    pendingBoot: s.pendingBoot ?? { slot: booted, activatedAt: new Date().toISOString() },
    lastEvent: event('failed', { failure, slot: booted, version, reason }),
  }));
  crashPoint('boot-check:reject-recorded');
  return { outcome: 'health-failed', slot: booted, version, reason, health, rebootToFallBack: true };
}
