// How far op computation may run ahead of the in-order writer of an ops patch. A count of ops is
// the wrong bound: one slow bsdiff op (several seconds for 4 MiB that match poorly) then stops the
// other workers after a few ops, although most finished results are a sha256 and a payload of a
// few percent of the op. So the bound is the payload bytes of finished results waiting to be
// written, plus a full pool queue (each job's result is at most one op, 4 MiB by default).

/** Finished payload bytes the writer may hold before no further op is dispatched. */
export const DEFAULT_HELD_RESULT_BYTES = 32 * 1024 * 1024;
/** Ops dispatched ahead of the writer at most, whatever their size (bounds the bookkeeping). */
const MAX_OPS_AHEAD = 4096;

export class ResultWindow {
  private running = 0;
  private held = 0;
  /** Called when a job finishes: the caller dispatches more if mayDispatch allows it. */
  onChange: (() => void) | undefined;

  constructor(
    private readonly workers: number,
    private readonly maxHeldBytes = DEFAULT_HELD_RESULT_BYTES,
  ) {}

  /** May another op be dispatched, `ahead` ops past the one being written? */
  mayDispatch(ahead: number): boolean {
    if (ahead === 0) return true; // the op the writer waits for always goes
    return ahead < MAX_OPS_AHEAD && this.running < 2 * this.workers && this.held < this.maxHeldBytes;
  }

  /** Counts a dispatched job as running until it settles, then its result's bytes as held. */
  track<R>(job: Promise<R>, bytesOf: (result: R) => number): Promise<R> {
    this.running++;
    return job.then(
      (result) => {
        this.running--;
        this.held += bytesOf(result);
        this.onChange?.();
        return result;
      },
      (err: unknown) => {
        this.running--;
        throw err;
      },
    );
  }

  /** The writer wrote a result of this many bytes. */
  release(bytes: number): void {
    this.held -= bytes;
  }

  get heldBytes(): number {
    return this.held;
  }
}
