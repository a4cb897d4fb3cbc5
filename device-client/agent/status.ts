// `ota-device status`: slots and their images, the boot state, the stored security version,
// an interrupted install and a pending boot check, in one document.
import { primarySlot, type BootState, type SlotName } from '../boot/boot-state.js';
import type { AgentState } from './agent-state.js';
import { readCheckinRecord, type CheckinRecord } from './checkin-record.js';
import type { Device } from './device.js';
import { deviceTrustStatus, formatTrustStatus, type DeviceTrustStatus } from './device-trust.js';
import type { InstallJournal } from './install-journal.js';
import { loadAnswerKeys, pinnedAnswerKeyPath } from './answer-key.js';
import type { DeviceConfig } from '../config.js';

export interface DeviceStatus {
  deviceId: string;
  hardwareId: string;
  booted: SlotName | null;
  bootedError?: string;
  /** The slot the bootloader will pick at the next boot. */
  nextBoot: SlotName | null;
  bootloader: string;
  boot: BootState;
  slots: Record<SlotName, { path: string; image: AgentState['slots']['A']; committed: boolean; triesLeft: number }>;
  securityVersion: number;
  /** Reset statements applied so far: the sequence the next one must name (ota-device provision --floor-reset). */
  floorResets: number;
  pendingBoot: AgentState['pendingBoot'];
  installInProgress: Pick<InstallJournal, 'version' | 'target' | 'step' | 'artifact' | 'source' | 'startedAt'> | null;
  lastEvent: AgentState['lastEvent'];
  /** Releases that failed their boot check here: declined when offered until `ota-device retry`. */
  failedReleases: AgentState['failedReleases'];
  /** The last gateway check-in (what the gateway said, e.g. hold and why), if any. */
  lastCheckin: CheckinRecord | null;
  /** What the device trusts of the fleet's TUF repository, or that it pins no TUF root (before TUF). */
  trust: DeviceTrustStatus;
  /** Which keys check-in answers must be signed by: the TUF list (answer-key.ts precedence), a pinned key file, or none. */
  gatewayAnswers: GatewayAnswersStatus;
}

export type GatewayAnswersStatus =
  | { pinned: true; keyPath: string }
  | { pinned: true; listedBy: { targetsVersion: number; keys: number } }
  | { pinned: false; warning: string };

/** What loadAnswerKeys will demand at the next check-in, said without failing the status. */
async function gatewayAnswersStatus(config: DeviceConfig): Promise<GatewayAnswersStatus> {
  let keys: Awaited<ReturnType<typeof loadAnswerKeys>>;
  try {
    keys = await loadAnswerKeys(config);
  } catch (error) {
    return { pinned: false, warning: `the gateway answer key does not read, so check-ins fail: ${(error as Error).message}` };
  }
  if (keys && 'listed' in keys) return { pinned: true, listedBy: { targetsVersion: keys.targetsVersion, keys: keys.listed.length } };
  if (keys) return { pinned: true, keyPath: config.gatewayAnswerKeyPath ?? pinnedAnswerKeyPath(config.stateDir) };
  return { pinned: false, warning: 'no gateway answer key pinned (gatewayAnswerKeyPath) or listed in TUF: unsigned check-in answers are accepted, so a fake gateway can order this device' };
}

export async function deviceStatus(device: Device): Promise<DeviceStatus> {
  const boot = await device.boot.read();
  const agent = await device.agentState.read();
  const journal = await device.journal.read();
  let booted: SlotName | null = null;
  let bootedError: string | undefined;
  try {
    booted = await device.bootedSlot();
  } catch (error) {
    bootedError = (error as Error).message;
  }
  const slot = (name: SlotName) => ({ path: device.slots[name].path, image: agent.slots[name], committed: boot.good[name], triesLeft: boot.tries[name] });
  return {
    deviceId: device.config.deviceId,
    hardwareId: device.config.hardwareId,
    booted,
    ...(bootedError ? { bootedError } : {}),
    nextBoot: primarySlot(boot),
    bootloader: device.boot.kind,
    boot,
    slots: { A: slot('A'), B: slot('B') },
    securityVersion: agent.securityVersion,
    floorResets: (await device.agentState.floor.read())?.resets ?? 0,
    pendingBoot: agent.pendingBoot,
    installInProgress: journal
      ? { version: journal.version, target: journal.target, step: journal.step, artifact: journal.artifact, source: journal.source, startedAt: journal.startedAt }
      : null,
    lastEvent: agent.lastEvent,
    failedReleases: agent.failedReleases ?? [],
    lastCheckin: (await readCheckinRecord(device.config.stateDir)) ?? null,
    trust: await deviceTrustStatus(device.config),
    gatewayAnswers: await gatewayAnswersStatus(device.config),
  };
}

export function formatStatus(s: DeviceStatus): string {
  const lines = [`device ${s.deviceId} (${s.hardwareId}), bootloader ${s.bootloader}`];
  lines.push(`running slot ${s.booted ?? `unknown (${s.bootedError})`}; next boot: ${s.nextBoot ?? 'none (recovery)'}; boot order ${s.boot.order.join(' ')}`);
  for (const name of ['A', 'B'] as const) {
    const slot = s.slots[name];
    const image = slot.image ? `${slot.image.version} sha256:${slot.image.sha256.slice(0, 16)}… ${slot.image.length} bytes, security ${slot.image.securityVersion}` : 'no verified image';
    lines.push(`slot ${name}: ${image}; ${slot.committed ? 'committed' : `not committed, ${slot.triesLeft} tries left`} (${slot.path})`);
  }
  lines.push(`stored security version: ${s.securityVersion} (floor resets applied: ${s.floorResets})`);
  lines.push(formatTrustStatus(s.trust));
  const answers = s.gatewayAnswers;
  lines.push(
    !answers.pinned
      ? `warning: ${answers.warning}`
      : 'keyPath' in answers
        ? `gateway answers: signed answers only (pinned key ${answers.keyPath})`
        : `gateway answers: signed answers only (${answers.listedBy.keys} key(s) listed by TUF targets version ${answers.listedBy.targetsVersion})`,
  );
  if (s.pendingBoot) lines.push(`pending boot check: slot ${s.pendingBoot.slot} (activated ${s.pendingBoot.activatedAt})`);
  if (s.installInProgress) lines.push(`install in progress: ${s.installInProgress.version} -> slot ${s.installInProgress.target}, step ${s.installInProgress.step} (from ${s.installInProgress.source})`);
  if (s.lastEvent) lines.push(`last event: ${s.lastEvent.kind}${s.lastEvent.failure ? ` (${s.lastEvent.failure})` : ''}${s.lastEvent.version ? ` ${s.lastEvent.version}` : ''}${s.lastEvent.slot ? ` slot ${s.lastEvent.slot}` : ''}${s.lastEvent.reason ? `: ${s.lastEvent.reason}` : ''} at ${s.lastEvent.at}`);
  for (const f of s.failedReleases) lines.push(`failed release ${f.version} (${f.failure}, ${f.at}): declined when offered until \`ota-device retry --release ${f.version}\``);
  const c = s.lastCheckin;
  if (c) {
    const said = c.action ? `${c.action}${c.version ? ` ${c.version}` : ''}${c.rolloutId ? ` (rollout ${c.rolloutId})` : ''}${c.reason ? `: ${c.reason}` : ''}` : c.reason ?? '';
    lines.push(`last check-in ${c.at} with ${c.gatewayUrl}: ${c.result}${said ? `, gateway said ${said}` : ''}; outcome ${c.outcome}`);
  }
  return lines.join('\n');
}
