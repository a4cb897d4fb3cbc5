// This process's peak RSS. VmHWM rather than getrusage maxRSS: in a forked child maxRSS starts at
// the parent's RSS (see docs/deltas.md), while VmHWM covers this address space only.
import { readFileSync } from 'node:fs';

export function peakRssBytes(): number {
  try {
    const kb = /^VmHWM:\s*(\d+)\s*kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (kb) return Number(kb) * 1024;
  } catch {
    // Not Linux: fall back below.
  }
  return process.resourceUsage().maxRSS * 1024;
}
