// Runs one health command (argv, no shell) with a timeout: healthy when it exits 0 in time.
import { spawn } from 'node:child_process';

export interface CheckOutcome {
  ok: boolean;
  detail: string;
}

const KEEP = 400;

export function runCommandCheck(argv: string[], timeoutMs: number): Promise<CheckOutcome> {
  return new Promise((resolve) => {
    const [program, ...args] = argv;
    // detached: the whole process group is killed on timeout, not just a wrapper shell.
    const child = spawn(program!, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let stderr = '';
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
      if (timedOut) resolve({ ok: false, detail: `timed out after ${timeoutMs} ms${tail}` });
      else if (code === 0) resolve({ ok: true, detail: 'exit 0' });
      else resolve({ ok: false, detail: `${signal ? `killed by ${signal}` : `exit ${code}`}${tail}` });
    });
  });
}
