// Maintenance windows (UTC): how long until installs may start. Pure, for the workflow.
import type { RolloutPolicy } from './policy.js';

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

/** 0 when `now` is inside a window (or there are none), else milliseconds until the next one opens. */
export function msUntilWindow(windows: RolloutPolicy['maintenanceWindows'], now: Date): number {
  if (windows.length === 0) return 0;
  let best = Infinity;
  for (const window of windows) {
    const [sh, sm] = window.start.split(':').map(Number) as [number, number];
    const [eh, em] = window.end.split(':').map(Number) as [number, number];
    const startMin = sh * 60 + sm;
    const endMin = eh * 60 + em;
    // Look at yesterday (a window crossing midnight), today and the next 7 days.
    for (let offset = -1; offset <= 7; offset++) {
      const day = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + offset));
      if (!window.days.includes(DAYS[day.getUTCDay()]!)) continue;
      const opens = day.getTime() + startMin * 60_000;
      const closes = day.getTime() + (endMin > startMin ? endMin : endMin + 24 * 60) * 60_000;
      if (now.getTime() >= opens && now.getTime() < closes) return 0;
      if (opens > now.getTime()) best = Math.min(best, opens - now.getTime());
    }
  }
  return best;
}
