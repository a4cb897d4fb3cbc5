// applyOpsDeltaNative: the same apply as applyOpsDelta, run by the native applier
// (native/ota-apply-ops, Go; docs/native-applier.md) in a child process that needs a few MB of
// RSS instead of the Node.js runtime's 40+. Same options and result; its errors come back as
// OpsDeltaError with the same codes, its checkpoints in the same JSON shape (either applier
// resumes the other's). Checkpoints are acknowledged (--ack): the child waits until onCheckpoint
// has stored one, and stops, keeping the partial file, if this process dies meanwhile.
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { findTool, ToolNotFoundError } from '../../platform/tools.js';
import { applyOpsDelta, DEFAULT_CHECKPOINT_BYTES, opsApplyCheckpointSchema, partialPathFor, type AppliedOpsDelta, type ApplyOpsDeltaOptions } from './apply.js';
import { isOpsDeltaErrorCode, OpsDeltaError } from './errors.js';

export const NATIVE_APPLIER = 'ota-apply-ops';

/** The native applier: $OTA_APPLY_OPS_BIN, else ota-apply-ops on PATH, else .tools/bin (tools/setup.mjs builds it there). */
export function findNativeApplier(): string | undefined {
  const fromEnv = process.env.OTA_APPLY_OPS_BIN;
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined;
  return findTool(NATIVE_APPLIER);
}

export interface ApplyOpsDeltaNativeOptions extends ApplyOpsDeltaOptions {
  /** The ota-apply-ops binary (default: findNativeApplier()). */
  binaryPath?: string;
}

/** The last line: the same fields as applyOpsDelta's result. */
type DoneEvent = { event: 'done' } & AppliedOpsDelta;

type ApplierEvent =
  | { event: 'progress'; opIndex: number; opCount: number; targetOffset: number; targetLength: number }
  | { event: 'checkpoint'; checkpoint: unknown }
  | { event: 'error'; code: string; message: string }
  | { event: 'stopped'; message: string }
  | DoneEvent;

function toError(event: { code: string; message: string }): Error {
  if (isOpsDeltaErrorCode(event.code)) return new OpsDeltaError(event.code, event.message);
  return new Error(`${NATIVE_APPLIER}: ${event.message}`);
}

export async function applyOpsDeltaNative(options: ApplyOpsDeltaNativeOptions): Promise<AppliedOpsDelta> {
  if (!options.patchPath || options.openPatch) throw new TypeError('applyOpsDeltaNative needs patchPath (the native applier reads a file)');
  const binary = options.binaryPath ?? findNativeApplier();
  if (!binary) throw new ToolNotFoundError(NATIVE_APPLIER);
  const signal = options.signal;
  signal?.throwIfAborted();
  const resume = options.resumeFrom ? opsApplyCheckpointSchema.parse(options.resumeFrom) : undefined;
  const resumeFile = resume ? join(options.scratchDir ?? dirname(options.outPath), `.${basename(options.outPath)}.ops-resume-${process.pid}.json`) : undefined;
  if (resumeFile) await writeFile(resumeFile, JSON.stringify(resume));

  const ack = Boolean(options.onCheckpoint);
  const args = ['--source', options.sourcePath, '--patch', options.patchPath, '--out', options.outPath, '--source-check', options.sourceCheck ?? 'full'];
  args.push('--checkpoint-bytes', String(ack ? (options.checkpointBytes ?? DEFAULT_CHECKPOINT_BYTES) : 0));
  if (resumeFile) args.push('--resume', resumeFile);
  if (ack) args.push('--ack');

  const child = spawn(binary, args, { stdio: [ack ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  child.stdin?.on('error', () => undefined); // the child may exit before reading an ack
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, sig) => resolve({ code, signal: sig }));
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr = (stderr + text).slice(-4000)));
  const onAbort = () => child.kill('SIGKILL'); // an abort keeps the partial file, as applyOpsDelta does
  signal?.addEventListener('abort', onAbort, { once: true });

  let done: DoneEvent | undefined;
  let failed: Error | undefined;
  try {
    try {
      for await (const line of createInterface({ input: child.stdout!, crlfDelay: Infinity })) {
        if (!line.trim()) continue;
        const event = JSON.parse(line) as ApplierEvent;
        if (event.event === 'progress') options.onProgress?.({ opIndex: event.opIndex, opCount: event.opCount, targetOffset: event.targetOffset, targetLength: event.targetLength });
        else if (event.event === 'checkpoint') {
          await options.onCheckpoint?.(opsApplyCheckpointSchema.parse(event.checkpoint));
          child.stdin?.write('\n');
        } else if (event.event === 'error') failed = toError(event);
        else if (event.event === 'done') done = event;
      }
    } catch (err) {
      // onCheckpoint failed (or a line did not parse): stop the child; like applyOpsDelta, an
      // error that is not an abort leaves no partial file.
      child.kill('SIGKILL');
      await exited.catch(() => undefined);
      if (!signal?.aborted) await rm(partialPathFor(options.outPath), { force: true });
      throw err;
    }
    const exit = await exited;
    signal?.throwIfAborted();
    if (failed) throw failed;
    if (!done || exit.code !== 0) {
      throw new Error(`${NATIVE_APPLIER} exited with ${exit.signal ?? `status ${exit.code}`} without a result${stderr ? `: ${stderr.trim()}` : ''}`);
    }
    const { event: _done, ...result } = done;
    return result;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (resumeFile) await rm(resumeFile, { force: true });
  }
}

export type OpsApplierChoice = 'auto' | 'native' | 'node';
export type OpsApplierName = 'native' | 'node';

export interface ChosenOpsApplier {
  applier: OpsApplierName;
  binaryPath?: string;
  /** Why auto picked Node.js (no binary, or a patch that is not a regular file). */
  reason?: string;
}

/**
 * Which applier runs: 'native' requires the binary and a patch file; 'auto' uses it when both are
 * there and otherwise Node.js (a FIFO or HTTP stream, or no binary for this platform).
 */
export function chooseOpsApplier(choice: OpsApplierChoice, patchPath: string | undefined): ChosenOpsApplier {
  if (choice === 'node') return { applier: 'node' };
  const binaryPath = findNativeApplier();
  const isFile = patchPath !== undefined && (() => {
    try {
      return statSync(patchPath).isFile();
    } catch {
      return false;
    }
  })();
  if (binaryPath && isFile) return { applier: 'native', binaryPath };
  if (choice === 'native') {
    if (!binaryPath) throw new ToolNotFoundError(NATIVE_APPLIER);
    throw new Error(`the native applier reads the patch as a file; ${patchPath ?? '(a stream)'} is not one`);
  }
  return { applier: 'node', reason: binaryPath ? 'the patch is not a regular file' : `${NATIVE_APPLIER} not found` };
}

/** applyOpsDelta or applyOpsDeltaNative, as `choice` says; the result names the one that ran. */
export async function applyOpsDeltaWith(
  choice: OpsApplierChoice,
  options: ApplyOpsDeltaOptions,
): Promise<AppliedOpsDelta & { applier: OpsApplierName; applierReason?: string }> {
  const chosen = chooseOpsApplier(choice, options.openPatch ? undefined : options.patchPath);
  const result = chosen.applier === 'native' ? await applyOpsDeltaNative({ ...options, binaryPath: chosen.binaryPath }) : await applyOpsDelta(options);
  return { ...result, applier: chosen.applier, ...(chosen.reason ? { applierReason: chosen.reason } : {}) };
}
