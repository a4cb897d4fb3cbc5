// Measuring processes from outside: peak RSS and CPU time from /proc, CLIs under /usr/bin/time -v,
// and the live status line for our own child jobs.
// @ts-check
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { rssMb, sec, status } from './format.mjs';

export function procStatus(pid, field) {
  try {
    const kb = new RegExp(`^${field}:\\s*(\\d+)\\s*kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/** user + system CPU time of a process so far (readable until it is reaped), in ms. */
export function cpuMsOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime + stime, plus cutime + cstime: children it has reaped (ota-bsdiff runs in one).
    return ((Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / CLK_TCK) * 1000;
  } catch {
    return undefined;
  }
}

/** Highest CPU time seen per pid (sampled on every progress event of our children). */
export const cpuSeen = new Map();
export function sampleCpu(pid) {
  const ms = cpuMsOf(pid);
  if (ms !== undefined) cpuSeen.set(pid, Math.max(cpuSeen.get(pid) ?? 0, ms));
}

const timeBin = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

/** The pid doing the work: /usr/bin/time's child when wrapped, else the spawned process. */
export function workerPid(pid) {
  if (!timeBin) return pid;
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)[0]) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs a CLI, showing elapsed time and RSS; returns wall time and peak RSS (time -v, else polled VmHWM).
 * With timeoutMs the CLI is killed when it runs longer and the result says `timedOut` (CPU and RSS
 * then come from polling /proc, so they are lower bounds).
 */
export function runCli(label, cmd, args, { timeoutMs } = {}) {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = timeBin ? spawn(timeBin, ['-v', cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'] }) : spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let polledPeak = 0;
    let polledCpu = 0;
    let timedOut = false;
    child.stderr.setEncoding('utf8').on('data', (t) => (stderr += t));
    const poll = setInterval(() => {
      const pid = workerPid(child.pid);
      const hwm = pid && procStatus(pid, 'VmHWM');
      if (hwm) polledPeak = Math.max(polledPeak, hwm);
      const cpu = pid && cpuMsOf(pid);
      if (cpu) polledCpu = Math.max(polledCpu, cpu);
      const rss = pid && procStatus(pid, 'VmRSS');
      status(`${label}: ${sec(performance.now() - started)}${rss ? `, RSS ${rssMb(rss)}` : ''}${timeoutMs ? ` (gives up at ${sec(timeoutMs)})` : ''}`);
      if (timeoutMs && !timedOut && performance.now() - started > timeoutMs) {
        timedOut = true;
        // Kill the CLI itself: /usr/bin/time reaps it and exits, and 'close' fires.
        if (pid && pid !== child.pid) process.kill(pid, 'SIGKILL');
        else child.kill('SIGKILL');
      }
    }, 100);
    child.on('error', (e) => {
      clearInterval(poll);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearInterval(poll);
      const wallMs = performance.now() - started;
      if (timedOut) return resolvePromise({ timedOut: true, wallMs, cpuMs: polledCpu || NaN, peakRssBytes: polledPeak || NaN, peakRssMethod: 'polled VmHWM (lower bound)' });
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${stderr.trim().slice(-2000)}`));
      const maxKb = /Maximum resident set size \(kbytes\):\s*(\d+)/.exec(stderr)?.[1];
      const user = /User time \(seconds\):\s*([\d.]+)/.exec(stderr)?.[1];
      const system = /System time \(seconds\):\s*([\d.]+)/.exec(stderr)?.[1];
      resolvePromise({
        wallMs,
        cpuMs: user !== undefined && system !== undefined ? (Number(user) + Number(system)) * 1000 : polledCpu || NaN,
        peakRssBytes: maxKb ? Number(maxKb) * 1024 : polledPeak || NaN,
        peakRssMethod: maxKb ? '/usr/bin/time -v' : 'polled VmHWM (lower bound)',
      });
    });
  });
}

/** Status line for our child jobs: phase, percent, elapsed, live RSS of the child. */
export function ourProgress(label, started) {
  return (p) => {
    sampleCpu(p.pid);
    const rss = procStatus(p.pid, 'VmRSS');
    const percent = p.bytesTotal ? ` ${Math.floor((p.bytesDone / p.bytesTotal) * 100)}%` : '';
    status(`${label}: ${p.phase}${percent}, ${sec(performance.now() - started)}${rss ? `, RSS ${rssMb(rss)}` : ''}`);
  };
}
