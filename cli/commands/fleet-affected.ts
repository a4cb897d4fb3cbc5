// `ota fleet affected CVE-ID|PURL [--scan report.json]`: which devices run a release whose SBOM holds
// an affected component (less what its VEX marks not_affected or fixed), and what would fix them.
import type { Command } from 'commander';
import { answerAffected, parseAffectedQuery, readBoundedScanReport } from '../../fleet-insight/affected-answer.js';
import type { AffectedAnswer } from '../../fleet-insight/affected-devices.js';
import { FleetStore } from '../../fleet/fleet-store.js';
import { openArtifactStore } from '../../stores/open-store.js';
import { configFrom } from '../context.js';
import { printResult } from '../output.js';

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
}

function labelText(labels: Record<string, string>): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
  return pairs.length ? pairs.join(',') : '-';
}

export function affectedText(answer: AffectedAnswer): string {
  const asked = answer.query.kind === 'vulnerability' ? answer.query.id : answer.query.purl;
  const lines: string[] = [];
  const affectedReleases = answer.releases.filter((r) => r.affected);
  lines.push(`${asked}: ${answer.devices.length} device(s) affected on ${affectedReleases.length} release(s); ${answer.unaffectedDevices} not affected; ${answer.unknownDevices.length} unknown`);
  if (answer.devices.length) {
    lines.push('');
    const rows = [['DEVICE', 'HARDWARE', 'RELEASE', 'RING', 'LABELS', 'COMPONENTS', 'FIXED BY']];
    for (const d of answer.devices) {
      rows.push([d.id, `${d.hardwareId}/${d.channel}`, d.release, d.ring ?? '-', labelText(d.labels), d.components.map((c) => c.purl).join(' '), d.fixedBy ?? 'no fix published']);
    }
    lines.push(...table(rows));
  }
  const suppressed = answer.releases.filter((r) => r.suppressed.length);
  if (suppressed.length) {
    lines.push('', 'taken out by VEX:');
    for (const r of suppressed) for (const s of r.suppressed) lines.push(`  ${r.hardwareId} ${r.version}: ${s.purl} ${s.vulnerability} ${s.status}`);
  }
  if (answer.unknownDevices.length) {
    lines.push('', `unknown release (not in the catalog or never checked in): ${answer.unknownDevices.map((d) => `${d.id} (${d.currentVersion ?? 'none'})`).join(', ')}`);
  }
  return lines.join('\n');
}

export function registerFleetAffectedCommand(fleet: Command): void {
  fleet
    .command('affected <vulnerability-or-purl>')
    .description('devices running a release affected by a CVE (or a component purl), less what its VEX rules out, and the release that fixes each')
    .option('--scan <report.json>', 'Grype or OSV-Scanner JSON report saying which component versions are affected (default: the releases\' own VEX)')
    .option('--json', 'print JSON')
    .action(async (asked: string, opts: { scan?: string; json?: boolean }, command: Command) => {
      const query = parseAffectedQuery(asked);
      const findings = opts.scan ? await readBoundedScanReport(opts.scan) : [];
      const config = configFrom(command);
      const fleetStore = await FleetStore.open(config.fleet.databaseUrl);
      const store = openArtifactStore(config.store);
      try {
        const answer = await answerAffected({ fleet: fleetStore, store, query, findings });
        printResult(opts, answer, () => affectedText(answer));
      } finally {
        await Promise.all([fleetStore.close(), store.close()]);
      }
    });
}
