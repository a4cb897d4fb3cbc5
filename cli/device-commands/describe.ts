// How `ota-device` shows results to people (--json prints the result objects themselves).
import type { BootCheckResult } from '../../device-client/agent/boot-check.js';
import type { CheckInResult } from '../../device-client/agent/checkin.js';
import type { InstallResult } from '../../device-client/agent/install.js';

export function describeCheckIn(r: CheckInResult): string {
  const lines: string[] = [];
  if (r.bootCheck && r.bootCheck.outcome !== 'ok') lines.push(`boot check: ${describeBootCheck(r.bootCheck)}`);
  if (r.resumed && r.resumed.outcome !== 'nothing-to-resume') lines.push(describeInstall(r.resumed));
  const response = r.response;
  switch (r.outcome) {
    case 'offline':
    case 'refused':
      lines.push(`check-in ${r.outcome}: ${r.error}`);
      break;
    case 'nothing':
      lines.push(response?.action === 'rollback' ? `rollback to ${response.targetVersion}: already running it` : `gateway: nothing to do${response?.action === 'none' && response.reason ? ` (${response.reason})` : ''}`);
      break;
    case 'declined':
      lines.push(`declined ${r.declined!.version}: ${r.declined!.reason}`);
      break;
    case 'held':
      lines.push(`gateway says hold${response && 'reason' in response ? `: ${response.reason}` : ''}`);
      break;
    case 'waiting-for-reboot':
      lines.push('an installed update waits for the reboot; nothing new started');
      break;
    case 'installed':
    case 'up-to-date':
      lines.push(describeInstall(r.install!));
      break;
    case 'rolled-back':
      lines.push(
        r.rollback?.outcome === 'switched'
          ? `rollback: boot switched back to slot ${r.rollback.slot} (${r.rollback.version}); reboot to run it`
          : `rollback: ${r.install ? describeInstall(r.install) : 'done'}`,
      );
      break;
    case 'failed':
      lines.push(`failed (${r.failure!.kind}${r.failure!.code ? `, ${r.failure!.code}` : ''}): ${r.failure!.message}`);
      break;
  }
  if ('skipped' in r.reports) lines.push(`reports: ${r.reports.skipped}`);
  else {
    const f = r.reports;
    lines.push(`reports: ${f.sent.length} sent${f.duplicates.length ? `, ${f.duplicates.length} duplicates dropped` : ''}${f.deadLettered.length ? `, ${f.deadLettered.length} dead-lettered` : ''}, ${f.remaining} queued${f.stopped ? ` (stopped: ${f.stopped})` : ''}`);
  }
  lines.push(`next check-in in ${r.pollAfterSeconds} s`);
  return lines.join('\n');
}

export function describeInstall(r: InstallResult): string {
  switch (r.outcome) {
    case 'up-to-date':
      return `up to date: slot ${r.slot} runs ${r.version}`;
    case 'installed':
      return `installed ${r.version} into slot ${r.slot} (${r.artifact}${r.reason ? `, ${r.reason}` : ''}); it boots next with ${r.tries} tries, then needs its boot check`;
    case 'activated':
      return `finished the interrupted install: ${r.version} in slot ${r.slot} is activated and awaits its boot check`;
    case 'nothing-to-resume':
      return 'no interrupted install';
  }
}

export function describeBootCheck(r: BootCheckResult): string {
  switch (r.outcome) {
    case 'committed':
      return `committed slot ${r.slot} (${r.version}); stored security version ${r.securityVersion}`;
    case 'health-failed':
      return `slot ${r.slot}${r.version ? ` (${r.version})` : ''} marked bad: ${r.reason}; reboot to fall back`;
    case 'rolled-back':
      return `rolled back: running committed slot ${r.slot}; slot ${r.failedSlot}${r.failedVersion ? ` (${r.failedVersion})` : ''} failed (${r.failure})`;
    case 'waiting-for-reboot':
      return `slot ${r.pendingSlot} is activated; running ${r.slot} until the reboot`;
    case 'ok':
      return `running committed slot ${r.slot}${r.version ? ` (${r.version})` : ''}; nothing pending`;
  }
}
