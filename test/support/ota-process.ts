// One `ota <command>` (gateway, worker) as a real child process for tests that run replicas and kill
// them: spawned with the given environment, ready once its /healthz answers (a gateway) or it
// prints a line that says it is polling (a worker). SIGKILL and restart are the caller's.
import { spawn, type ChildProcess } from 'node:child_process';
import { waitForHttp } from '../../platform/wait-for-http.js';
import { OTA_BIN } from './dist.js';

export type Readiness = { healthz: string } | { stdoutLine: RegExp };

/** Up to 120 s: a worker bundles its workflows first, which takes long on a loaded 2-core machine. */
const READY_WITHIN_MS = 120_000;

function printed(child: ChildProcess, line: RegExp): Promise<void> {
  return new Promise((resolve) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out = (out + chunk.toString('utf8')).slice(-4000);
      if (line.test(out)) resolve();
    });
  });
}

export class OtaProcess {
  private child?: ChildProcess;
  private stderr = '';

  constructor(
    readonly name: string,
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly ready: Readiness,
  ) {}

  /** Starts the process and waits until it is ready; an early exit rejects with the end of its stderr. */
  async start(): Promise<void> {
    const child = spawn(process.execPath, [OTA_BIN, ...this.args], { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString('utf8')).slice(-4000)));
    if ('healthz' in this.ready) child.stdout!.resume();
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code, signal) => reject(new Error(`${this.name} exited (${signal ?? `code ${code}`}) before it was ready: ${this.stderr.trim()}`))),
    );
    exited.catch(() => undefined);
    const deadline = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${this.name} not ready within ${READY_WITHIN_MS} ms: ${this.stderr.trim()}`)), READY_WITHIN_MS).unref());
    const readiness = 'healthz' in this.ready ? waitForHttp(this.ready.healthz, READY_WITHIN_MS) : printed(child, this.ready.stdoutLine);
    try {
      await Promise.race([readiness, exited, deadline]);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
  }

  /** SIGKILL, no shutdown of any kind, and wait until it is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await gone;
  }
}
