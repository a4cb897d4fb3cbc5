// Runs one health command (argv, no shell) with a timeout: healthy when it exits 0 in time.
// Lines of its standard output of the form `metric NAME=INTEGER` are custom metrics, carried by
// the device's heartbeats (bounded: the first 64 names, integers only).
import { spawn } from 'node:child_process';

export interface CheckOutcome {
  ok: boolean;
  detail: string;
  /** Custom metrics the check printed (`metric name=value`). */
  metrics?: Record<string, number>;
}

const KEEP = 400;
const MAX_STDOUT = 64 * 1024;
const MAX_METRICS = 64;
const METRIC_LINE = /^metric\s+([A-Za-z0-9][A-Za-z0-9._:-]{0,63})=(-?\d{1,15})\s*$/;

/** `metric name=value` lines of a check's output; later lines win, at most 64 names. */
export function parseMetricLines(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = METRIC_LINE.exec(line.trim());
    if (!m) continue;
    if (!(m[1]! in out) && Object.keys(out).length >= MAX_METRICS) continue;
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

export function runCommandCheck(argv: string[], timeoutMs: number): Promise<CheckOutcome> {
  return new Promise((resolve) => {
    const [program, ...args] = argv;
    // detached: the whole process group is killed on timeout, not just a wrapper shell.
    const child = spawn(program!, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      if (stdout.length < MAX_STDOUT) stdout += chunk;
    });
    let timedOut = false;
    child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-KEEP)));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ ok: false, detail: `cannot run ${program}: ${error.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const tail = stderr.trim() ? `: ${stderr.trim()}` : '';
      const parsed = parseMetricLines(stdout);
      const metrics = Object.keys(parsed).length > 0 ? { metrics: parsed } : {};
      if (timedOut) resolve({ ok: false, detail: `timed out after ${timeoutMs} ms${tail}`, ...metrics });
      else if (code === 0) resolve({ ok: true, detail: 'exit 0', ...metrics });
      else resolve({ ok: false, detail: `${signal ? `killed by ${signal}` : `exit ${code}`}${tail}`, ...metrics });
    });
  });
}
