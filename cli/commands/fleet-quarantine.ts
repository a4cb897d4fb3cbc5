// `ota fleet quarantine list|show|release`: devices the gateway quarantined after failed, stale or
// missing attestation (docs/attestation.md), why (which PCR, which value was expected), and an
// operator's release after remediation, recorded with who released it.
import type { Command } from 'commander';
import type { AttestationRecord, FleetStore, QuarantineRecord } from '../../fleet/fleet-store.js';
import { printResult } from '../output.js';
import { withFleetStore } from '../context.js';

function why(q: QuarantineRecord): string {
  const e = q.evidence as { pcr?: number; expected?: string[]; pcrs?: Record<string, string>; kind?: string; detail?: Record<string, unknown> };
  // Posture drift (gateway/drift-gate.ts): the drift event's detail says what differed.
  if (q.code.startsWith('DRIFT:') && e.detail) return `${q.reason}; ${JSON.stringify(e.detail)}`;
  if (e.pcr === undefined) return q.reason;
  return `${q.reason}; PCR ${e.pcr} = ${e.pcrs?.[String(e.pcr)] ?? '?'}, expected one of: ${(e.expected ?? []).join(', ') || '(no release lists a measurement)'}`;
}

function line(q: QuarantineRecord): string {
  const released = q.releasedAt ? `  released ${q.releasedAt.toISOString()} by ${q.releasedBy}${q.releaseNote ? ` (${q.releaseNote})` : ''}` : '';
  return `${q.deviceId}  since ${q.since.toISOString()}  ${q.code}  remediation ${q.remediationVersion ?? '(none)'}${released}`;
}

function attestationLine(a: AttestationRecord): string {
  return `  ${a.at.toISOString()} ${a.ok ? `attested ${a.releaseVersion}` : `refused ${a.code}: ${a.detail}`}`;
}

async function showDevice(fleet: FleetStore, id: string) {
  if (!(await fleet.getDevice(id))) throw new Error(`no device ${id} in the fleet store`);
  const key = await fleet.getAttestationKey(id);
  return {
    deviceId: id,
    assurance: key ? 'tpm' : 'software',
    // The EK's trust at registration (docs/attestation.md "Endorsement key"): vendor-ca or unverified with why.
    ek: key?.ek ? { trust: key.ek.trust, caFingerprint: key.ek.caFingerprint, warning: key.ek.warning } : null,
    quarantines: await fleet.listQuarantines({ all: true, deviceId: id }),
    attestations: await fleet.attestationHistory(id, 10),
  };
}

export function registerQuarantineCommands(fleet: Command): void {
  const quarantine = fleet.command('quarantine').description('devices held to their remediation release after failed, stale or missing attestation');
  quarantine
    .command('list')
    .description('open quarantines (--all: released ones too)')
    .option('--all', 'include released quarantines')
    .option('--json', 'print JSON')
    .action(async (opts: { all?: boolean; json?: boolean }, command: Command) => {
      const list = await withFleetStore(command, (f) => f.listQuarantines({ all: opts.all }));
      printResult(opts, list, () => (list.length ? list.map(line).join('\n') : 'no device is quarantined'));
    });
  quarantine
    .command('show <id>')
    .description("one device's quarantines with their evidence, and its latest attestations")
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }, command: Command) => {
      const shown = await withFleetStore(command, (f) => showDevice(f, id));
      printResult(opts, shown, () =>
        [
          `${id}  assurance ${shown.assurance}${shown.ek ? `  EK ${shown.ek.trust}${shown.ek.caFingerprint ? ` ${shown.ek.caFingerprint.slice(0, 16)}` : `: ${shown.ek.warning}`}` : ''}${shown.quarantines.some((q) => !q.releasedAt) ? '  QUARANTINED' : ''}`,
          ...shown.quarantines.flatMap((q) => [line(q), `  why: ${why(q)}`]),
          'attestations (newest first):',
          ...(shown.attestations.length ? shown.attestations.map(attestationLine) : ['  none']),
        ].join('\n'),
      );
    });
  quarantine
    .command('release <id>')
    .description('end the open quarantine of a device after remediation (recorded with who released it)')
    .requiredOption('--by <name>', 'who releases it, for the record')
    .option('--note <text>', 'what was remediated')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { by: string; note?: string; json?: boolean }, command: Command) => {
      const released = await withFleetStore(command, (f) => f.releaseQuarantine(id, opts.by, opts.note ?? null));
      if (!released) throw new Error(`device ${id} has no open quarantine`);
      printResult(opts, released, () => `released ${id} from quarantine (${released.code}) by ${opts.by}; it must attest again within the policy's grace`);
    });
}
