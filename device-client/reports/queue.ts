// The on-disk report queue: one file per report in stateDir/reports/pending, named by its counter,
// so the directory listing is the send order. A report is written (fsync, rename, fsync dir)
// before anything is sent and removed only after the gateway acknowledged it, so reports survive
// power cuts and offline periods. Reports the gateway refuses as malformed or forged move to
// reports/dead with the reason instead of blocking the queue forever.
//
// Counters: reserved durably *before* use (counter.json holds the next free value and is written
// first), so a crash between reserving and queueing only leaves a gap; a counter is never reused.
// The nonce is not stored: it is fetched and signed over, with the counter, at send time.
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { counterSchema, healthReportBodySchema, type HealthReportBody } from '../../schemas/device-api.js';
import { fsyncDirectory } from '../boot/atomic-file.js';
import { readJsonFile, writeJsonFile } from '../agent/json-file.js';

const queuedReportSchema = z.object({ counter: counterSchema, body: healthReportBodySchema }).strict();
export type QueuedReport = z.infer<typeof queuedReportSchema>;

const deadReportSchema = queuedReportSchema
  .extend({ rejected: z.object({ status: z.int(), code: z.string(), detail: z.string(), at: z.string() }).strict() })
  .strict();
export type DeadReport = z.infer<typeof deadReportSchema>;

const counterFileSchema = z.object({ next: counterSchema }).strict();

const NAME = /^(\d{16})\.json$/;
const fileName = (counter: number) => `${String(counter).padStart(16, '0')}.json`;

// Serializes queue changes per directory, so two callers in one process (a simulator running a
// check-in and a flush for the same device) cannot reserve the same counter. Keyed by directory:
// devices never share an entry.
const locks = new Map<string, Promise<unknown>>();
function serialized<T>(key: string, work: () => Promise<T>): Promise<T> {
  const previous = locks.get(key) ?? Promise.resolve();
  const run = previous.then(work, work);
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  locks.set(key, settled);
  void settled.then(() => {
    if (locks.get(key) === settled) locks.delete(key);
  });
  return run;
}

export class ReportQueue {
  readonly dir: string;
  readonly pendingDir: string;
  readonly deadDir: string;
  private readonly counterPath: string;

  constructor(stateDir: string) {
    this.dir = join(stateDir, 'reports');
    this.pendingDir = join(this.dir, 'pending');
    this.deadDir = join(this.dir, 'dead');
    this.counterPath = join(this.dir, 'counter.json');
  }

  /** Reserves the next counter, then writes the report under it. Returns what was queued. */
  enqueue(body: HealthReportBody): Promise<QueuedReport> {
    const report = healthReportBodySchema.parse(body);
    return serialized(this.dir, async () => {
      await mkdir(this.pendingDir, { recursive: true });
      const counter = await this.reserveCounter();
      const queued: QueuedReport = { counter, body: report };
      await writeJsonFile(join(this.pendingDir, fileName(counter)), queued);
      return queued;
    });
  }

  /** Pending reports, lowest counter first. */
  async pending(): Promise<QueuedReport[]> {
    const names = (await readdir(this.pendingDir).catch(() => [] as string[])).filter((n) => NAME.test(n)).sort();
    const out: QueuedReport[] = [];
    for (const name of names) {
      const report = await readJsonFile(join(this.pendingDir, name), queuedReportSchema);
      if (report) out.push(report);
    }
    return out;
  }

  /** The gateway has it: forget it. */
  ack(counter: number): Promise<void> {
    return serialized(this.dir, async () => {
      await rm(join(this.pendingDir, fileName(counter)), { force: true });
      await fsyncDirectory(this.pendingDir);
    });
  }

  /** The gateway refused it for good: keep it aside with the reason, out of the send order. */
  deadLetter(report: QueuedReport, rejected: Omit<DeadReport['rejected'], 'at'>): Promise<void> {
    return serialized(this.dir, async () => {
      await mkdir(this.deadDir, { recursive: true });
      const dead: DeadReport = { ...report, rejected: { ...rejected, at: new Date().toISOString() } };
      await writeJsonFile(join(this.deadDir, fileName(report.counter)), dead);
      await rm(join(this.pendingDir, fileName(report.counter)), { force: true });
      await fsyncDirectory(this.pendingDir);
    });
  }

  async dead(): Promise<DeadReport[]> {
    const names = (await readdir(this.deadDir).catch(() => [] as string[])).filter((n) => NAME.test(n)).sort();
    const out: DeadReport[] = [];
    for (const name of names) {
      const report = await readJsonFile(join(this.deadDir, name), deadReportSchema);
      if (report) out.push(report);
    }
    return out;
  }

  private async reserveCounter(): Promise<number> {
    const stored = (await readJsonFile(this.counterPath, counterFileSchema))?.next ?? 1;
    // Never below a counter already on disk (belt and braces if counter.json was lost).
    const onDisk = [...(await readdir(this.pendingDir).catch(() => [] as string[])), ...(await readdir(this.deadDir).catch(() => [] as string[]))]
      .map((n) => NAME.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]) + 1);
    const counter = Math.max(stored, ...onDisk);
    await writeJsonFile(this.counterPath, { next: counter + 1 });
    return counter;
  }
}
