// Named points where the power-cut harness can kill the agent (SIGKILL, no clean-up of any kind),
// and a trace of the points a run passed, so the harness can kill at every one of them in turn.
//   OTA_DEVICE_CRASH_AT=<point>       kill this process when it reaches <point>
//   OTA_DEVICE_CRASH_TRACE=<file>     append each point reached to <file>, one per line
import { appendFileSync } from 'node:fs';

export function crashPoint(name: string): void {
  const trace = process.env.OTA_DEVICE_CRASH_TRACE;
  // Synchronous on purpose: the line must be on disk before a kill at the next point.
  if (trace) appendFileSync(trace, `${name}\n`);
  if (process.env.OTA_DEVICE_CRASH_AT === name) process.kill(process.pid, 'SIGKILL');
}
