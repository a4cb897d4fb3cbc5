// .ota/dev/state.json: which services `ota dev` started, by pid, so that `status`,
// `down` and a second `up` know what is ours.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ServiceRecord {
  /** Absent for `embedded` services, which run no process. */
  pid?: number;
  /** /proc start time, guarding against a recycled pid. */
  startTime?: string;
  startedAt: string;
  log: string;
  /** Native runner used: a process, or `embedded` when nothing runs (PGlite). */
  mode: 'process' | 'embedded';
  /** Connection string handed to dependants (the fleet database). */
  url?: string;
}

export interface DevState {
  file: string;
  services: Record<string, ServiceRecord>;
}

export function devDir(stateDir: string): string {
  return join(stateDir, 'dev');
}

export function statePath(stateDir: string): string {
  return join(devDir(stateDir), 'state.json');
}

export function logPath(stateDir: string, service: string): string {
  return join(devDir(stateDir), `${service}.log`);
}

export function readState(stateDir: string, file: string): DevState {
  try {
    const parsed = JSON.parse(readFileSync(statePath(stateDir), 'utf8')) as DevState;
    return { file: parsed.file ?? file, services: parsed.services ?? {} };
  } catch {
    return { file, services: {} };
  }
}

/** Written atomically (rename) so a concurrent `status` never sees half a file. */
export function writeState(stateDir: string, state: DevState): void {
  mkdirSync(devDir(stateDir), { recursive: true });
  if (Object.keys(state.services).length === 0) {
    rmSync(statePath(stateDir), { force: true });
    return;
  }
  const tmp = `${statePath(stateDir)}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, statePath(stateDir));
}
