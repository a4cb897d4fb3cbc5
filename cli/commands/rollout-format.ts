// Human rendering of a rollout's status: one line per ring with counts and the verdict.
import type { RolloutStatus } from '../../rollout/types.js';

export function renderRolloutStatus(s: RolloutStatus): string {
  const lines = [
    `${s.rolloutId}: ${s.releaseVersion} to ${s.hardwareId} -- ${s.state}${s.paused ? ' (paused)' : ''}${s.waitingApprovalFor ? `, ring ${s.waitingApprovalFor} waits for approval` : ''}`,
    `exposure: ${s.exposure.devices} of ${s.exposure.fleet} devices (budget ${s.exposure.budget})`,
  ];
  if (s.hold) lines.splice(1, 0, `held (${s.hold.reason}) since ${s.hold.since} at ring ${s.hold.ring}: ${s.hold.detail}`, `  ota rollout approve ${s.rolloutId} to continue, ota rollout abort ${s.rolloutId} to stop`);
  if (s.healthErrors > 0 && !s.hold) lines.push(`health reads failing: ${s.healthErrors} in a row`);
  for (const ring of s.rings) {
    const h = ring.health;
    const counts = h ? `reported ${h.reported}/${ring.assigned}, committed ${h.committed}, failed ${h.failed}` : `${ring.assigned} devices`;
    const verdict = ring.verdict ? `  ${ring.verdict.verdict}: ${ring.verdict.reason}` : '';
    const deadline = ring.deadlineAt && ring.state === 'baking' ? `  (decision deadline ${ring.deadlineAt})` : '';
    lines.push(`  ${ring.name.padEnd(10)} ${ring.state.padEnd(16)} ${counts}${verdict}${deadline}`);
  }
  const recent = s.decisions.slice(-5);
  if (recent.length) {
    lines.push('recent decisions:');
    for (const d of recent) lines.push(`  ${d.at} ${d.ring ? `[${d.ring}] ` : ''}${d.action}: ${d.reason}${d.by ? ` (by ${d.by})` : ''}`);
  }
  return lines.join('\n');
}
