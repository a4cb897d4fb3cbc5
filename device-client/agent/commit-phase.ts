// Every phase of an install is made durable the same way, in the same order:
//   1. the agent state's record (which slot holds what, the pending boot, the last event)
//   2. one boot-state write (between its own before/after crash points, boot-writes.ts)
//   3. the install journal: begun, advanced to the phase's step, or cleared
//   4. the phase's crash point: the power-cut harness kills here to prove the phase is enough
// Each part is optional; the order is not. A restart reads the journal last written, so what it
// names (step 3) is always backed by the writes before it.
import type { BootState } from '../boot/boot-state.js';
import type { AgentState } from './agent-state.js';
import { writeBootState } from './boot-writes.js';
import { crashPoint } from './crash-points.js';
import type { Device } from './device.js';
import type { InstallJournal, InstallStep, NewInstallJournal } from './install-journal.js';

export type JournalMove =
  | { begin: NewInstallJournal }
  | { advance: InstallJournal; to: InstallStep }
  /** The install is over (finished, failed cleanly, or handed to the boot check). */
  | { clear: true };

export interface InstallPhase {
  agentState?: (state: AgentState) => AgentState;
  /** Crash point right after the agent-state write. */
  agentStateCrashPoint?: string;
  boot?: { label: string; change: (state: BootState) => BootState };
  journal: JournalMove;
  /** Crash point once the phase is durable. */
  crashPoint?: string;
}

export async function commitPhase(device: Device, phase: InstallPhase & { journal: { clear: true } }): Promise<undefined>;
export async function commitPhase(device: Device, phase: InstallPhase): Promise<InstallJournal>;
export async function commitPhase(device: Device, phase: InstallPhase): Promise<InstallJournal | undefined> {
  if (phase.agentState) await device.agentState.update(phase.agentState);
  if (phase.agentStateCrashPoint) crashPoint(phase.agentStateCrashPoint);
  if (phase.boot) await writeBootState(device, phase.boot.label, phase.boot.change);
  const journal = await moveJournal(device, phase.journal);
  if (phase.crashPoint) crashPoint(phase.crashPoint);
  return journal;
}

async function moveJournal(device: Device, move: JournalMove): Promise<InstallJournal | undefined> {
  if ('begin' in move) return device.journal.begin(move.begin);
  if ('advance' in move) return device.journal.advance(move.advance, move.to);
  await device.journal.clear();
  return undefined;
}
