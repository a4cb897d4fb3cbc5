// The device's on-disk report queue: one file per report in stateDir/reports/pending, named by its
// counter, so the directory listing is the send order. A report is written (temp, fsync, rename,
// fsync dir) before enqueue returns and removed only after the gateway acknowledged it, so reports
// survive power cuts and offline periods. Reports the gateway refuses as malformed or forged move
// to reports/dead with the reason instead of blocking the queue forever.
//
// Counters: reserved durably *before* use (counter.json holds the next free value and is written
// first), so a crash between reserving and queueing only leaves a gap; a counter is never reused.
// The nonce is not stored: it is fetched and signed over, with the counter, at send time.
//
// Torn writes: a power cut mid-enqueue leaves only a temp file, which the listing ignores. Should a
// filesystem still expose a half-written newest report, it is cut off when the queue is read (its
// enqueue never returned); a damaged report below the newest one is an error, not silently dropped.
import { mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { counterSchema, healthReportBodySchema, type HealthReportBody } from '../../schemas/device-api.js';
import { fsyncDirectory } from '../../platform/atomic-write.js';
import { AgentStateError, readJsonFile, writeJsonFile } from '../state/json-file.js';

const queuedReportSchema = z.object({ counter: counterSchema, body: healthReportBodySchema }).strict();
export type QueuedReport = z.infer<typeof queuedReportSchema>;

const deadReportSchema = queuedReportSchema
  .extend({ rejected: z.object({ status: z.int(), code: z.string(), detail: z.string(), at: z.string() }).strict() })
  .strict();
export type DeadReport = z.infer<typeof deadReportSchema>;

const counterFileSchema = z.object({ next: counterSchema }).strict();

const NAME = /^(\d{16})\.json$/;
const fileName = (counter: number) => `${String(counter).padStart(16, '0')}.json`;

/** Report files in a folder, lowest counter first (temp files of unfinished writes are not listed). */
async function reportNames(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((n) => NAME.test(n)).sort();
}

/** mkdir -p whose new directory entries survive a power cut: each created level's parent is fsync'd. */
async function mkdirDurable(path: string): Promise<void> {
  const first = await mkdir(path, { recursive: true, mode: 0o700 });
  if (first === undefined) return;
  const top = resolve(first);
  for (let dir = resolve(path); dir.length >= top.length && dir !== dirname(dir); dir = dirname(dir)) await fsyncDirectory(dirname(dir));
}

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
      await mkdirDurable(this.pendingDir);
      const counter = await this.reserveCounter();
      const queued: QueuedReport = { counter, body: report };
      await writeJsonFile(join(this.pendingDir, fileName(counter)), queued);
      return queued;
    });
  }

  /** Pending reports, lowest counter first; a torn newest report is cut off (see the header). */
  pending(): Promise<QueuedReport[]> {
    return serialized(this.dir, async () => {
      const names = await reportNames(this.pendingDir);
      const out: QueuedReport[] = [];
      for (const [index, name] of names.entries()) {
        const path = join(this.pendingDir, name);
        try {
          const report = await readJsonFile(path, queuedReportSchema);
          if (report) out.push(report);
        } catch (error) {
          if (!(error instanceof AgentStateError) || index !== names.length - 1) throw error;
          await rm(path, { force: true });
          await fsyncDirectory(this.pendingDir);
        }
      }
      return out;
    });
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
      await mkdirDurable(this.deadDir);
      const dead: DeadReport = { ...report, rejected: { ...rejected, at: new Date().toISOString() } };
      await writeJsonFile(join(this.deadDir, fileName(report.counter)), dead);
      await rm(join(this.pendingDir, fileName(report.counter)), { force: true });
      await fsyncDirectory(this.pendingDir);
    });
  }

  async dead(): Promise<DeadReport[]> {
    const names = await reportNames(this.deadDir);
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
    const onDisk = [...(await reportNames(this.pendingDir)), ...(await reportNames(this.deadDir))].map((n) => Number(NAME.exec(n)![1]) + 1);
    const counter = Math.max(stored, ...onDisk);
    await writeJsonFile(this.counterPath, { next: counter + 1 });
    return counter;
  }
}
