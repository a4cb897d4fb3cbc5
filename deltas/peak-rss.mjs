// This process's peak RSS, for the delta child scripts (plain .mjs: they run without a build) and,
// through package.json's "#deltas/*.mjs" import (which resolves to these sources from dist/ too),
// for compiled code. Types: peak-rss.d.mts.
// VmHWM rather than getrusage maxRSS: on Linux maxRSS survives fork+exec, so in a child it starts
// at the parent's RSS at spawn time (measured: 604 MB reported for a 43 MB child of a 640 MB
// parent); VmHWM belongs to the post-exec address space only.
import { readFileSync } from 'node:fs';

export function peakRssBytes() {
  try {
    const kb = /^VmHWM:\s*(\d+)\s*kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (kb) return Number(kb) * 1024;
  } catch {
    // Not Linux: fall back below.
  }
  return process.resourceUsage().maxRSS * 1024;
}
