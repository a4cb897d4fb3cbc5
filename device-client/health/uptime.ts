// System uptime (Linux /proc/uptime: "<seconds up> <idle seconds>"), and waiting for a minimum:
// a new slot must stay up that long before it is committed.
import { readFile } from 'node:fs/promises';
import type { CheckOutcome } from './command-check.js';

export async function readUptimeSeconds(path: string): Promise<number> {
  const text = await readFile(path, 'utf8');
  const seconds = Number(text.trim().split(/\s+/)[0]);
  if (!Number.isFinite(seconds) || seconds < 0) throw new Error(`${path} does not start with an uptime in seconds (got ${JSON.stringify(text.slice(0, 40))})`);
  return seconds;
}

export async function waitForUptime(path: string, minSeconds: number): Promise<CheckOutcome> {
  if (minSeconds <= 0) return { ok: true, detail: 'no minimum uptime' };
  let up: number;
  try {
    up = await readUptimeSeconds(path);
  } catch (error) {
    return { ok: false, detail: (error as Error).message };
  }
  if (up < minSeconds) {
    await new Promise((resolve) => setTimeout(resolve, (minSeconds - up) * 1000));
    // Read again: a reboot meanwhile (we would not be here) or a clock file that did not move shows up.
    try {
      up = await readUptimeSeconds(path);
    } catch (error) {
      return { ok: false, detail: (error as Error).message };
    }
  }
  return up >= minSeconds ? { ok: true, detail: `up ${Math.floor(up)} s (minimum ${minSeconds} s)` } : { ok: false, detail: `up only ${up} s, below the minimum ${minSeconds} s` };
}
