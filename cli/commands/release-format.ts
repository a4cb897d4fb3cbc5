// Human rendering of release progress: one line per step, with the running step's detail.
import type { ProgressEvent } from '../../temporal/release-client.js';

const MARK: Record<string, string> = { pending: ' ', running: '>', done: 'x', skipped: '-', failed: '!' };

export function renderSteps(event: ProgressEvent): string {
  const line = event.steps.map((s) => `[${MARK[s.state]}] ${s.name}`).join(' ');
  const running = event.steps.find((s) => s.state === 'running');
  const detail = event.activity?.details as { phase?: string; bytes?: number; total?: number } | undefined;
  let extra = '';
  if (running && detail?.phase) {
    extra = `  ${running.name}: ${detail.phase}${detail.bytes !== undefined ? ` ${formatBytes(detail.bytes)}${detail.total ? ` / ${formatBytes(detail.total)}` : ''}` : ''}`;
  }
  if (event.activity && event.activity.attempt > 1) extra += `  (attempt ${event.activity.attempt}${event.activity.lastFailure ? `: ${event.activity.lastFailure}` : ''})`;
  return line + extra;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
