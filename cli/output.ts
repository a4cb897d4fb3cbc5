// One way to print results: readable lines for people, one JSON document with --json for machines.
export interface OutputOptions {
  json?: boolean;
}

export function printResult(opts: OutputOptions, data: unknown, human: () => string): void {
  if (opts.json) process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
  else process.stdout.write(`${human()}\n`);
}

/** Progress goes to stderr so it never mixes with --json output on stdout. */
export function progress(opts: OutputOptions, message: string): void {
  if (!opts.json) process.stderr.write(`${message}\n`);
}

/**
 * Progress for byte counters: at most one line per interval (and always the last one),
 * so a large upload prints a handful of lines, not thousands.
 */
export function throttledProgress(opts: OutputOptions, intervalMs = 1000): (message: string, final?: boolean) => void {
  let last = 0;
  return (message, final = false) => {
    const now = Date.now();
    if (!final && now - last < intervalMs) return;
    last = now;
    progress(opts, message);
  };
}
