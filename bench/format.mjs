// Progress and figures for the bench: one live status line on stderr, the table on stdout
// (stderr with --json), and the number formats the report uses.
// @ts-check
import { wantJson } from './args.mjs';

export const out = wantJson ? process.stderr : process.stdout;
const tty = process.stderr.isTTY;
let statusShown = false;
let lastPlainStatus = 0;
/** One live status line on a TTY; otherwise a line at most every 10 s. */
export function status(text, force = false) {
  if (tty) {
    process.stderr.write(`\r\x1b[K[bench] ${text}`);
    statusShown = true;
  } else if (force || Date.now() - lastPlainStatus >= 10_000) {
    lastPlainStatus = Date.now();
    process.stderr.write(`[bench] ${text}\n`);
  }
}
export function log(text) {
  if (statusShown) process.stderr.write('\r\x1b[K');
  statusShown = false;
  process.stderr.write(`[bench] ${text}\n`);
}
/** Clears the live status line before the table is printed. */
export function clearStatus() {
  if (statusShown) process.stderr.write('\r\x1b[K');
}

export const mb = (n) => (n / 1e6).toFixed(n < 1e7 ? 2 : 1);
export const rssMb = (n) => (Number.isFinite(n) ? `${Math.round(n / 1e6)} MB` : '–');
export const sec = (ms) => `${(ms / 1000).toFixed(1)} s`;
export const cpuS = (ms) => (Number.isFinite(ms) ? sec(ms) : '–');
export const pct = (part, whole) => `${((part / whole) * 100).toFixed(part / whole < 0.1 ? 2 : 1)}%`;
