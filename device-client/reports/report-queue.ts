// The device's on-disk report queue: reports are appended (one JSON line each, fsync'd before
// enqueue returns), sent in order, and dropped only after the gateway acknowledged them. It also
// hands out the monotonic report counter, so counters survive restarts with the queue.
//
// Files in the queue directory:
//   queue.log   append-only JSON lines {"counter":N,"report":{...}}; a line torn by a power cut
//               (no newline, or not JSON) can only be the last one and is cut off at open.
//   acked.json  {"ackedThrough":N}, replaced atomically: everything up to N is acknowledged.
import { open, readFile, truncate, type FileHandle } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { healthReportBodySchema, type HealthReportBody } from '../../schemas/device-api.js';
import { fsyncDirectory, writeFileAtomic } from '../boot/atomic-file.js';

export interface QueuedReport {
  counter: number;
  report: HealthReportBody;
}

/** Rewrite queue.log once everything in it is acknowledged and it has grown past this. */
const COMPACT_AFTER_BYTES = 64 * 1024;

export class ReportQueue {
  private entries: QueuedReport[] = [];
  private ackedThrough = 0;
  private lastCounter = 0;
  private logBytes = 0;
  // One operation at a time: appends and acks must not interleave on disk.
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(readonly dir: string) {}

  static async open(dir: string): Promise<ReportQueue> {
    const queue = new ReportQueue(dir);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await queue.load();
    return queue;
  }

  private get logPath() {
    return join(this.dir, 'queue.log');
  }

  private get ackPath() {
    return join(this.dir, 'acked.json');
  }

  private async load(): Promise<void> {
    try {
      this.ackedThrough = Number((JSON.parse(await readFile(this.ackPath, 'utf8')) as { ackedThrough: number }).ackedThrough) || 0;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`report queue ${this.ackPath} is unreadable: ${(error as Error).message}`);
    }
    let text = '';
    try {
      text = await readFile(this.logPath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    let offset = 0;
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      const complete = i < lines.length - 1; // the piece after the last "\n" has no newline yet
      if (!complete) {
        if (line.length > 0) await this.cutTornTail(offset);
        break;
      }
      let entry: QueuedReport;
      try {
        entry = JSON.parse(line) as QueuedReport;
        healthReportBodySchema.parse(entry.report);
        if (!Number.isSafeInteger(entry.counter) || entry.counter <= this.lastCounter) throw new Error(`counter ${entry.counter} out of order`);
      } catch (error) {
        if (i === lines.length - 2 && lines[lines.length - 1] === '') {
          await this.cutTornTail(offset); // the last line, torn mid-write yet newline-terminated by chance: drop it too
          break;
        }
        throw new Error(`report queue ${this.logPath} is corrupt at line ${i + 1}: ${(error as Error).message}`);
      }
      offset += Buffer.byteLength(line) + 1;
      this.lastCounter = entry.counter;
      if (entry.counter > this.ackedThrough) this.entries.push(entry);
    }
    this.logBytes = offset;
    this.lastCounter = Math.max(this.lastCounter, this.ackedThrough);
  }

  private async cutTornTail(offset: number): Promise<void> {
    await truncate(this.logPath, offset);
    const handle = await open(this.logPath, 'r+');
    await handle.sync().finally(() => handle.close());
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => {});
    return next;
  }

  /** Appends a report durably and returns the counter it will be signed with. */
  enqueue(report: HealthReportBody): Promise<number> {
    const checked = healthReportBodySchema.parse(report);
    return this.serial(async () => {
      const entry: QueuedReport = { counter: this.lastCounter + 1, report: checked };
      const line = `${JSON.stringify(entry)}\n`;
      const fresh = this.logBytes === 0;
      let handle: FileHandle | undefined;
      try {
        handle = await open(this.logPath, 'a', 0o600);
        await handle.write(line);
        await handle.sync();
      } finally {
        await handle?.close();
      }
      if (fresh) await fsyncDirectory(this.dir); // a new file's directory entry must be durable too
      this.logBytes += Buffer.byteLength(line);
      this.lastCounter = entry.counter;
      this.entries.push(entry);
      return entry.counter;
    });
  }

  /** Unacknowledged reports, oldest first. */
  pending(): QueuedReport[] {
    return [...this.entries];
  }

  /** The highest counter handed out so far (0 before the first report). */
  get counter(): number {
    return this.lastCounter;
  }

  /** Everything up to counter was acknowledged by the gateway: drop it, durably. */
  ack(counter: number): Promise<void> {
    return this.serial(async () => {
      if (counter <= this.ackedThrough) return;
      await writeFileAtomic(this.ackPath, JSON.stringify({ ackedThrough: counter }));
      this.ackedThrough = counter;
      this.entries = this.entries.filter((e) => e.counter > counter);
      if (this.entries.length === 0 && this.logBytes > COMPACT_AFTER_BYTES) {
        // acked.json keeps the counter's high-water mark, so an empty log loses nothing.
        await writeFileAtomic(this.logPath, '');
        this.logBytes = 0;
      }
    });
  }
}
