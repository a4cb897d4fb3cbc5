// `ota fleet`: what the fleet store knows about devices (enrolled keys, last reported state).
import type { Command } from 'commander';
import { FleetStore, type DeviceWithState } from '../../fleet/fleet-store.js';
import { offerEligibility } from '../../gateway/offer-eligibility.js';
import { configFrom } from '../context.js';
import { registerFleetCaCommands } from './fleet-ca.js';
import { registerAnswerKeyCommand } from './gateway-answer-key.js';
import { registerQuarantineCommands } from './fleet-quarantine.js';
import { printResult } from '../output.js';

function summary(d: DeviceWithState) {
  return {
    id: d.id,
    hardwareId: d.hardwareId,
    channel: d.channel,
    labels: d.labels,
    keyAlgorithm: d.keyAlgorithm,
    enrolledAt: d.enrolledAt.toISOString(),
    revokedAt: d.revokedAt?.toISOString() ?? null,
    currentVersion: d.state.currentVersion,
    slot: d.state.slot,
    securityVersion: d.state.securityVersion,
    lastState: d.state.state,
    failureKind: d.state.failureKind,
    releaseVersion: d.state.releaseVersion,
    lastCheckinAt: d.state.lastCheckinAt?.toISOString() ?? null,
    lastReportAt: d.state.lastReportAt?.toISOString() ?? null,
    lastCounter: d.state.lastCounter,
  };
}

function line(d: ReturnType<typeof summary>): string {
  const state = d.lastState ? `${d.lastState}${d.failureKind ? `(${d.failureKind})` : ''} ${d.releaseVersion}` : 'no reports';
  const seen = d.lastReportAt ?? d.lastCheckinAt ?? 'never';
  return `${d.id}  ${d.hardwareId}/${d.channel}  running ${d.currentVersion ?? '?'}  ${state}  seen ${seen}${d.revokedAt ? '  REVOKED' : ''}`;
}

export async function withFleet<T>(command: Command, fn: (fleet: FleetStore) => Promise<T>): Promise<T> {
  const fleet = await FleetStore.open(configFrom(command).fleet.databaseUrl);
  try {
    return await fn(fleet);
  } finally {
    await fleet.close();
  }
}

export function registerFleetCommands(program: Command): void {
  const fleet = program.command('fleet').description('enrolled devices, their last reported state, and the fleet CA');
  fleet
    .command('devices')
    .alias('list')
    .description('list enrolled devices with their last state')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      const devices = (await withFleet(command, (f) => f.listDevices())).map(summary);
      printResult(opts, devices, () => (devices.length ? devices.map(line).join('\n') : 'no devices enrolled'));
    });
  fleet
    .command('show <id>')
    .description('one device, with its latest reports')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }, command: Command) => {
      const found = await withFleet(command, async (f) => {
        const device = await f.getDeviceWithState(id);
        if (!device) return undefined;
        // The gateway's own rule: a release that failed here is not offered again until `ota fleet retry`.
        const assignment = await f.openAssignmentFor(id);
        const eligibility = assignment ? offerEligibility(assignment.releaseVersion, assignment.rolloutId, id, await f.attemptFailures(assignment.rolloutId, id)) : undefined;
        const offerBlocked = eligibility && !eligibility.offer ? { rolloutId: assignment!.rolloutId, releaseVersion: assignment!.releaseVersion, kind: eligibility.kind, reason: eligibility.reason } : null;
        return { ...summary(device), offerBlocked, reports: await f.reportsOf(id, 20) };
      });
      if (!found) throw new Error(`no device ${id} in the fleet store`);
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
      const cleared = await withFleet(command, async (f) => {
        if (!(await f.getDevice(id))) throw new Error(`no device ${id} in the fleet store`);
        return f.retryDevice(id, opts.release);
      });
      if (cleared.length === 0) throw new Error(`device ${id} has no assignment in an open or finished rollout${opts.release ? ` of release ${opts.release}` : ''}`);
      printResult(opts, { deviceId: id, cleared }, () => cleared.map((c) => `${id}: ${c.releaseVersion} will be offered again in rollout ${c.rolloutId}`).join('\n'));
    });
  fleet
    .command('revoke <id>')
    .description('refuse every further request from a device (its history stays)')
    .requiredOption('--reason <text>', 'why, for the record')
    .action(async (id: string, opts: { reason: string }, command: Command) => {
      const revoked = await withFleet(command, (f) => f.revokeDevice(id, opts.reason));
      if (!revoked) throw new Error(`no enrolled, unrevoked device ${id}`);
      process.stdout.write(`revoked ${id}\n`);
    });
  registerFleetCaCommands(fleet);
  registerAnswerKeyCommand(fleet);
  registerQuarantineCommands(fleet);
}
