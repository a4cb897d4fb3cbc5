// A fixed pool of ops-worker.mjs child processes: one job per worker at a time, jobs queued in
// submission order. A worker that dies fails the whole pool (its job's payload is lost and a
// crash usually means memory ran out); closing collects each worker's own peak RSS.
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../../platform/paths.js';

/** Resolved from the project root so sources (vitest) and dist/ fork the same plain-JS worker. */
export const opsWorkerPath = join(projectRoot, 'deltas', 'ops', 'ops-worker.mjs');

export interface WorkerInit {
  sourcePath: string;
  targetPath: string;
  blockSize: number;
  scratchDir: string;
  /** ota-bsdiff's path, or undefined for bsdiff-node. */
  bsdiffTool?: string;
}

interface Pending {
  id: number;
  job: { kind: string } & Record<string, unknown>;
  resolve: (value: any) => void;
  reject: (err: Error) => void;
}

interface Slot {
  child: ChildProcess;
  busy?: Pending;
  stderr: string;
  peakRssBytes?: number;
}

export class OpsWorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 0;
  private failure: Error | undefined;
  private closed = false;

  constructor(size: number, init: WorkerInit) {
    for (let i = 0; i < size; i++) {
      // Own execArgv so a worker does not inherit the caller's loaders (vitest's, for one).
      // A fixed mmap threshold: bsdiff's large buffers (~18 x the extent per op) are then mmap'ed and
      // returned on free. With glibc's default dynamic threshold they move onto the heap after the
      // first free, fragment, and the worker's RSS crept up with the number of ops (image size).
      const env = { ...process.env, MALLOC_MMAP_THRESHOLD_: process.env.MALLOC_MMAP_THRESHOLD_ ?? String(1024 * 1024) };
      // --expose-gc: the worker collects after each op (see ops-worker.mjs).
      const child = fork(opsWorkerPath, [], { execArgv: ['--expose-gc'], env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'advanced' });
      const slot: Slot = { child, stderr: '' };
      child.stderr?.setEncoding('utf8').on('data', (t: string) => (slot.stderr = (slot.stderr + t).slice(-4096)));
      child.on('message', (m: any) => this.onMessage(slot, m));
      child.on('exit', (code, signal) => {
        if (this.closed && slot.peakRssBytes !== undefined) return;
        this.fail(new Error(`ops worker ${child.pid} ${signal ? `was killed by ${signal}` : `exited with code ${code}`}${slot.stderr.trim() ? `: ${slot.stderr.trim()}` : ''}`));
      });
      child.send({ type: 'init', ...init });
      this.slots.push(slot);
    }
  }

  get size(): number {
    return this.slots.length;
  }

  get pids(): number[] {
    return this.slots.map((s) => s.child.pid!);
  }

  /** Sends the same message (e.g. the source index) to every worker, ahead of later jobs. */
  broadcast(message: Record<string, unknown>): void {
    for (const slot of this.slots) slot.child.send(message);
  }

  run<R>(job: { kind: string } & Record<string, unknown>): Promise<R> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, job, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.busy || this.queue.length === 0) continue;
      const next = this.queue.shift()!;
      slot.busy = next;
      slot.child.send({ type: 'job', id: next.id, job: next.job });
    }
  }

  private onMessage(slot: Slot, m: { type: string; id?: number; result?: unknown; message?: string; peakRssBytes?: number }): void {
    if (m.type === 'bye') {
      slot.peakRssBytes = m.peakRssBytes;
      return;
    }
    const pending = slot.busy;
    if (!pending || pending.id !== m.id) return;
    slot.busy = undefined;
    if (m.type === 'result') pending.resolve(m.result);
    else pending.reject(new Error(`ops worker ${pending.job.kind} job failed: ${m.message}`));
    this.dispatch();
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const slot of this.slots) {
      slot.busy?.reject(err);
      slot.busy = undefined;
    }
    for (const p of this.queue.splice(0)) p.reject(err);
    this.kill();
  }

  /** Kills every worker at once (abort or failure). */
  kill(): void {
    this.closed = true;
    for (const slot of this.slots) if (slot.child.exitCode === null && slot.child.signalCode === null) slot.child.kill('SIGKILL');
  }

  /** Asks every worker to exit and returns their peak RSS (VmHWM), in pool order. */
  async close(): Promise<number[]> {
    this.closed = true;
    await Promise.all(
      this.slots.map(
        (slot) =>
          new Promise<void>((resolve) => {
            if (slot.child.exitCode !== null || slot.child.signalCode !== null) return resolve();
            slot.child.once('exit', () => resolve());
            slot.child.send({ type: 'exit' });
          }),
      ),
    );
    return this.slots.map((s) => s.peakRssBytes ?? 0);
  }
}
