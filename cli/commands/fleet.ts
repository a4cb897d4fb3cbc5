// `ota fleet`: what the fleet store knows about devices (enrolled keys, last reported state).
import type { Command } from 'commander';
import type { FleetStore } from '../../fleet/fleet-store.js';
import { deviceDetail, listDeviceSummaries, retryFleetDevice, revokeFleetDevice, type DeviceSummary } from '../../operator/fleet-service.js';
import { withFleetStore } from '../context.js';
import { registerFleetAffectedCommand } from './fleet-affected.js';
import { registerFleetAdmissionCommands } from './fleet-admission.js';
import { registerFleetCaCommands } from './fleet-ca.js';
import { registerAnswerKeyCommand } from './gateway-answer-key.js';
import { registerQuarantineCommands } from './fleet-quarantine.js';
import { registerFleetDriftCommands } from './fleet-drift.js';
import { registerTpmCaCommands } from './fleet-tpm-ca.js';
import { printResult } from '../output.js';

function line(d: DeviceSummary): string {
  const state = d.lastState ? `${d.lastState}${d.failureKind ? `(${d.failureKind})` : ''} ${d.releaseVersion}` : 'no reports';
  const seen = d.lastReportAt ?? d.lastCheckinAt ?? 'never';
  return `${d.id}  ${d.hardwareId}/${d.channel}  running ${d.currentVersion ?? '?'}  ${state}  seen ${seen}${d.revokedAt ? '  REVOKED' : ''}`;
}

export function registerFleetCommands(program: Command): void {
  const fleet = program.command('fleet').description('enrolled devices, their last reported state, and the fleet CA');
  fleet
    .command('devices')
    .alias('list')
    .description('list enrolled devices with their last state')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      const devices = await withFleetStore(command, listDeviceSummaries);
      printResult(opts, devices, () => (devices.length ? devices.map(line).join('\n') : 'no devices enrolled'));
    });
  fleet
    .command('show <id>')
    .description('one device, with its latest reports')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }, command: Command) => {
      const found = await withFleetStore(command, (f) => deviceDetail(f, id));
      printResult(opts, found, () =>
        [
          line(found),
          ...(found.offerBlocked ? [`  not offered: ${found.offerBlocked.reason}`] : []),
          ...found.reports.map((r) => `  #${r.counter} ${r.receivedAt.toISOString()} ${r.state}${r.failureKind ? `(${r.failureKind})` : ''} ${r.releaseVersion}${r.frozen ? ` FROZEN for ${r.frozen.seconds} s (TUF timestamp expired ${r.frozen.since})` : ''}`),
        ].join('\n'),
      );
    });
  fleet
    .command('retry <id>')
    .description('offer a release that failed on a device again (its failures stay counted in ring health)')
    .option('--release <version>', 'only this release (default: every open or finished rollout of the device)')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { release?: string; json?: boolean }, command: Command) => {
      const { cleared } = await withFleetStore(command, (f) => retryFleetDevice(f, id, opts.release));
      printResult(opts, { deviceId: id, cleared }, () => cleared.map((c) => `${id}: ${c.releaseVersion} will be offered again in rollout ${c.rolloutId}`).join('\n'));
    });
  fleet
    .command('revoke <id>')
    .description('refuse every further request from a device (its history stays)')
    .requiredOption('--reason <text>', 'why, for the record')
    .action(async (id: string, opts: { reason: string }, command: Command) => {
      await withFleetStore(command, (f) => revokeFleetDevice(f, id, opts.reason));
      process.stdout.write(`revoked ${id}\n`);
    });
  fleet
    .command('revoke-certificate <serial>')
    .description('refuse one device certificate (hex serial) on the next request; the device may get a new one unless it is revoked too')
    .requiredOption('--reason <text>', 'why, for the record')
    .action(async (serial: string, opts: { reason: string }, command: Command) => {
      if (!(await withFleetStore(command, (f: FleetStore) => f.revokeCertificate(serial, opts.reason)))) throw new Error(`no issued, unrevoked device certificate with serial ${serial}`);
      process.stdout.write(`revoked certificate ${serial.toLowerCase()}\n`);
    });
  registerFleetCaCommands(fleet);
  registerFleetAffectedCommand(fleet);
  registerFleetAdmissionCommands(fleet);
  registerAnswerKeyCommand(fleet);
  registerQuarantineCommands(fleet);
  registerFleetDriftCommands(fleet);
  registerTpmCaCommands(fleet);
}
