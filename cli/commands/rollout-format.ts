// Human rendering of a rollout's status: one line per ring with counts and the verdict.
import type { RolloutStatus } from '../../rollout/types.js';

export function renderRolloutStatus(s: RolloutStatus): string {
  const lines = [
    `${s.rolloutId}: ${s.releaseVersion} to ${s.hardwareId} -- ${s.state}${s.paused ? ' (paused)' : ''}${s.waitingApprovalFor ? `, ring ${s.waitingApprovalFor} waits for approval` : ''}`,
    `exposure: ${s.exposure.devices} of ${s.exposure.fleet} devices (budget ${s.exposure.budget})`,
  ];
  for (const ring of s.rings) {
    const h = ring.health;
    const counts = h ? `reported ${h.reported}/${ring.assigned}, committed ${h.committed}, failed ${h.failed}` : `${ring.assigned} devices`;
    const verdict = ring.verdict ? `  ${ring.verdict.verdict}: ${ring.verdict.reason}` : '';
    lines.push(`  ${ring.name.padEnd(10)} ${ring.state.padEnd(16)} ${counts}${verdict}`);
  }
  const recent = s.decisions.slice(-5);
  if (recent.length) {
    lines.push('recent decisions:');
    for (const d of recent) lines.push(`  ${d.at} ${d.ring ? `[${d.ring}] ` : ''}${d.action}: ${d.reason}${d.by ? ` (by ${d.by})` : ''}`);
  }
  return lines.join('\n');
}
