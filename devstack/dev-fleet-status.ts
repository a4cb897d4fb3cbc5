// <state>/dev/devices.json: what the simulated devices of `ota dev devices` are doing, written by
// their background process after every round, read by `ota dev status` and by the command that
// started them (it waits for the enrollment to finish).
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isSameProcess } from './processes.js';

/** The record name of the device process in <state>/dev/state.json: `ota dev down` stops it with the services. */
export const DEV_FLEET_SERVICE = 'devices';

/** A status file is a few hundred bytes per version; anything far larger is not ours. */
const MAX_STATUS_BYTES = 256 * 1024;

export interface DevFleetStatus {
  /** enrolling: admitted and enrolling; running: checking in every round; failed/stopped: the process ended. */
  state: 'enrolling' | 'running' | 'failed' | 'stopped';
  pid: number;
  startTime?: string;
  hardwareId: string;
  channel: string;
  gatewayUrl: string;
  count: number;
  /** The first and last device id (`<prefix>-00000` ...). */
  ids: { first: string; last: string };
  everySeconds: number;
  startedAt: string;
  updatedAt: string;
  rounds: number;
  /** How many devices run each version, as the devices themselves see it. */
  versions: Record<string, number>;
  /** Device conversations that failed (each is retried at the next round, as a real device would). */
  errors: number;
  lastError?: string;
  /** Why the process failed, when state is failed. */
  reason?: string;
}

export function devFleetStatusPath(stateDir: string): string {
  return join(stateDir, 'dev', 'devices.json');
}

export function devFleetLogPath(stateDir: string): string {
  return join(stateDir, 'dev', 'devices.log');
}

/** Written atomically (rename), so a reader never sees half a file. */
export function writeDevFleetStatus(stateDir: string, status: DevFleetStatus): void {
  const file = devFleetStatusPath(stateDir);
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(status, null, 2)}\n`);
  renameSync(tmp, file);
}

/** After `ota dev down` of the whole stack: its devices are history. */
export function removeDevFleetStatus(stateDir: string): void {
  rmSync(devFleetStatusPath(stateDir), { force: true });
}

/** The last status written, or undefined when there is none (or it is not ours). */
export function readDevFleetStatus(stateDir: string): DevFleetStatus | undefined {
  const file = devFleetStatusPath(stateDir);
  try {
    if (statSync(file).size > MAX_STATUS_BYTES) return undefined;
    const data = JSON.parse(readFileSync(file, 'utf8')) as DevFleetStatus;
    return typeof data.pid === 'number' && typeof data.state === 'string' && typeof data.versions === 'object' ? data : undefined;
  } catch {
    return undefined;
  }
}

/** Still running as written: a status claiming to run whose process is gone is reported as stopped. */
export function liveDevFleetStatus(stateDir: string): DevFleetStatus | undefined {
  const status = readDevFleetStatus(stateDir);
  if (!status) return undefined;
  const active = status.state === 'enrolling' || status.state === 'running';
  if (active && !isSameProcess(status.pid, status.startTime)) return { ...status, state: 'stopped', reason: status.reason ?? `pid ${status.pid} is gone` };
  return status;
}

/** `10 on 1.1.0, 2 on 1.0.0`: most devices first. */
export function describeVersions(versions: Record<string, number>): string {
  const entries = Object.entries(versions).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return entries.length ? entries.map(([version, n]) => `${n} on ${version}`).join(', ') : 'none';
}

/** One line for people: what the devices do, and how long ago they last checked in. */
export function describeDevFleet(status: DevFleetStatus, now = Date.now()): string {
  const ago = Math.max(0, Math.round((now - Date.parse(status.updatedAt)) / 1000));
  const head = `${status.count} simulated ${status.hardwareId} devices (${status.ids.first} .. ${status.ids.last}) at ${status.gatewayUrl}`;
  switch (status.state) {
    case 'enrolling':
      return `${head}: enrolling`;
    case 'running':
      return `${head}: ${describeVersions(status.versions)}; checking in every ${status.everySeconds}s (round ${status.rounds}, ${ago}s ago)${status.errors ? `; ${status.errors} failed conversations, last: ${status.lastError}` : ''}`;
    case 'failed':
      return `${head}: FAILED: ${status.reason ?? 'unknown'}`;
    case 'stopped':
      return `${head}: stopped${status.reason ? ` (${status.reason})` : ''}; last seen ${describeVersions(status.versions)}`;
  }
}
