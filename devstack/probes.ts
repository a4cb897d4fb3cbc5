// Readiness probes from x-ota.ready: a TCP port accepting connections, an HTTP URL
// answering without a server error, or (for port-less workers) a process that stays up.
import { connect } from 'node:net';
import type { Probe } from './schema.js';

export function splitHostPort(value: string): { host: string; port: number } {
  const match = /^\[?(.+?)\]?:(\d+)$/.exec(value);
  if (!match) throw new Error(`not a host:port: ${value}`);
  return { host: match[1]!, port: Number(match[2]) };
}

export function tcpAnswers(hostPort: string, timeoutMs = 1000): Promise<boolean> {
  const { host, port } = splitHostPort(hostPort);
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export async function httpAnswers(url: string, timeoutMs = 2000): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await res.body?.cancel();
    return res.status < 500;
  } catch {
    return false;
  }
}

/** One probe; `alive` probes check the process, since there is nothing else to ask. */
export async function probeAnswers(probe: Probe, processUp: () => boolean, upForMs: () => number): Promise<boolean> {
  if ('tcp' in probe) return tcpAnswers(probe.tcp);
  if ('http' in probe) return httpAnswers(probe.http);
  return processUp() && upForMs() >= probe.alive * 1000;
}

export async function allAnswer(probes: Probe[], processUp: () => boolean, upForMs: () => number): Promise<boolean> {
  for (const probe of probes) if (!(await probeAnswers(probe, processUp, upForMs))) return false;
  return true;
}

export function describeProbe(probe: Probe): string {
  if ('tcp' in probe) return `tcp ${probe.tcp}`;
  if ('http' in probe) return `GET ${probe.http}`;
  return `process alive for ${probe.alive}s`;
}
