// `ota-device`: the device-side A/B update agent's command line.
import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../platform/paths.js';
import { isSlotName, type SlotName } from '../device-client/boot/boot-state.js';
import { loadDeviceConfig } from '../device-client/config.js';
import { bootCheck, type BootCheckResult } from '../device-client/agent/boot-check.js';
import { openDevice, type Device } from '../device-client/agent/device.js';
import { installUpdate, resumeInstall, type InstallResult } from '../device-client/agent/install.js';
import { markRunningSlotBad, markRunningSlotGood } from '../device-client/agent/manual-marks.js';
import { provisionDevice } from '../device-client/agent/provision.js';
import { runAgentLoop } from '../device-client/agent/agent-loop.js';
import { checkInOnce, type CheckInResult } from '../device-client/agent/checkin.js';
import { bootCheckAndReport } from '../device-client/agent/report-outcome.js';
import { enrollDevice, enrollmentToken } from '../device-client/agent/enroll.js';
import { sourceOpener, type GatewaySourceSettings } from '../device-client/agent/sources.js';
import { deviceStatus, formatStatus } from '../device-client/agent/status.js';
import { ReleaseRejectedError } from '../verification/errors.js';
import { printResult, progress } from './output.js';

interface GlobalOptions {
  config?: string;
  bootedSlot?: string;
}

async function deviceFrom(command: Command): Promise<Device> {
  const opts = command.optsWithGlobals() as GlobalOptions;
  const file = opts.config ?? process.env.OTA_DEVICE_CONFIG;
  if (!file) throw new Error('no device configuration: pass --config FILE or set OTA_DEVICE_CONFIG');
  let bootedSlot: SlotName | undefined;
  if (opts.bootedSlot !== undefined) {
    if (!isSlotName(opts.bootedSlot)) throw new Error(`--booted-slot: expected A or B, got "${opts.bootedSlot}"`);
    bootedSlot = opts.bootedSlot;
  }
  return openDevice(await loadDeviceConfig(file), { bootedSlot });
}

/** Offline bundles, and `gateway:` sources for resuming an install that came from the gateway. */
function openerFor(device: Device, log?: (line: string) => void) {
  const gateway: GatewaySourceSettings = { stateDir: device.config.stateDir, retry: device.config.download, log };
  return sourceOpener(device.scratchDir, gateway);
}

function describeCheckIn(r: CheckInResult): string {
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
      lines.push(response?.action === 'rollback' ? `rollback to ${response.targetVersion}: already running it` : 'gateway: nothing to do');
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

/** Release rejections carry a code (WRONG_SIGNER, SECURITY_VERSION_DOWNGRADE, ...) worth showing. */
function explain(error: unknown): Error {
  if (error instanceof ReleaseRejectedError) return new Error(`release refused (${error.code}): ${error.message}`);
  return error as Error;
}

function describeInstall(r: InstallResult): string {
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

function describeBootCheck(r: BootCheckResult): string {
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

export function buildDeviceProgram(): Command {
  const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string };
  const program = new Command('ota-device')
    .description('A/B slot update agent: verifies releases offline, installs to the inactive slot, falls back on failure')
    .version(pkg.version)
    .showHelpAfterError()
    .option('-c, --config <file>', 'device configuration (JSON or YAML); default $OTA_DEVICE_CONFIG')
    .addOption(new Option('--booted-slot <slot>', 'the running slot, instead of ota.slot= on the kernel command line (simulation)').choices(['A', 'B']));

  program
    .command('provision')
    .description('record the factory image of a slot and create the agent state (and, with --boot-state, the boot state)')
    .requiredOption('--slot <slot>', 'slot holding the factory image (A or B)')
    .requiredOption('--version <semver>', 'version of the factory image')
    .option('--security-version <n>', 'initial stored security version', '0')
    .option('--length <bytes>', 'image length (default: the whole slot file)')
    .option('--boot-state', 'also write the initial boot state (factory slot committed)')
    .option('--force', 'start over on a provisioned device')
    .option('--json', 'print as JSON')
    .action(async (opts: { slot: string; version: string; securityVersion: string; length?: string; bootState?: boolean; force?: boolean; json?: boolean }, command: Command) => {
      if (!isSlotName(opts.slot)) throw new Error(`--slot: expected A or B, got "${opts.slot}"`);
      const device = await deviceFrom(command);
      const state = await provisionDevice(device, {
        slot: opts.slot,
        version: opts.version,
        securityVersion: nonNegativeInt('--security-version', opts.securityVersion),
        length: opts.length === undefined ? undefined : nonNegativeInt('--length', opts.length),
        writeBootState: opts.bootState,
        force: opts.force,
      });
      printResult(opts, state, () => `provisioned ${device.config.deviceId}: slot ${opts.slot} holds ${opts.version}, stored security version ${state.securityVersion}`);
    });

  program
    .command('install <source>')
    .description('install the newest release for this hardware from an offline bundle (folder, tar, file:// URI)')
    .option('--version <semver>', 'a specific release instead of the newest')
    .option('--full', 'full image even when a delta from the installed image exists')
    .option('--json', 'print the result as JSON')
    .action(async (source: string, opts: { version?: string; full?: boolean; json?: boolean }, command: Command) => {
      const device = await deviceFrom(command);
      const openSource = openerFor(device, (line) => progress(opts, line));
      const log = (line: string) => progress(opts, line);
      const journal = await device.journal.read();
      let result: InstallResult;
      try {
        if (journal && journal.source === source && (!opts.version || opts.version === journal.version)) {
          // The same install was cut short: finish it rather than start a second one.
          result = await resumeInstall(device, openSource, log);
        } else {
          const update = await openSource(source);
          try {
            result = await installUpdate(device, { source: update, sourceRef: source, version: opts.version, full: opts.full, log });
          } finally {
            await update.close();
          }
        }
      } catch (error) {
        throw explain(error);
      }
      printResult(opts, result, () => describeInstall(result));
    });

  program
    .command('resume')
    .description('finish or restart an install that a power cut or crash interrupted')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      const device = await deviceFrom(command);
      const result = await resumeInstall(device, openerFor(device, (line) => progress(opts, line)), (line) => progress(opts, line)).catch((error) => {
        throw explain(error);
      });
      printResult(opts, result, () => describeInstall(result));
    });

  program
    .command('boot-check')
    .description('after a boot: run the health checks and commit the new slot, or mark it bad so the next boot falls back')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      const result = await bootCheck(await deviceFrom(command));
      printResult(opts, result, () => describeBootCheck(result));
      if (result.outcome === 'health-failed') process.exitCode = 2;
    });

  program
    .command('mark-good')
    .description('commit the running slot without running the health checks')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      const result = await markRunningSlotGood(await deviceFrom(command));
      printResult(opts, result, () => describeBootCheck(result));
    });

  program
    .command('mark-bad')
    .description('take the running slot out of the boot rotation: the next boot falls back to the committed slot')
    .option('--reason <text>', 'why, for the record')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { reason?: string; json?: boolean }, command: Command) => {
      const result = await markRunningSlotBad(await deviceFrom(command), opts.reason);
      printResult(opts, result, () => describeBootCheck(result));
    });

  program
    .command('status')
    .description('slots, versions, boot state, stored security version, pending install')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      const status = await deviceStatus(await deviceFrom(command));
      printResult(opts, status, () => formatStatus(status));
    });

  program
    .command('enroll')
    .description('make the device key (if missing) and enroll it with the gateway using a one-time token')
    .option('--token <token>', 'enrollment token (default: the environment variable named by enrollment.tokenEnv)')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { token?: string; json?: boolean }, command: Command) => {
      const device = await deviceFrom(command);
      const result = await enrollDevice(device.config, { token: enrollmentToken(device.config, opts.token) });
      printResult(opts, result, () => `${result.created ? 'enrolled' : 'already enrolled'}: ${result.deviceId} with ${result.gatewayUrl} (${result.algorithm} key)`);
    });

  program
    .command('check')
    .description('one gateway check-in: boot check, act on the answer (none, hold, update, rollback), send queued reports')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      const device = await deviceFrom(command);
      const token = process.env[device.config.enrollment.tokenEnv];
      const result = await checkInOnce(device, { log: (line) => progress(opts, line), enrollmentToken: token });
      printResult(opts, result, () => describeCheckIn(result));
      if (result.outcome === 'failed' || result.outcome === 'refused') process.exitCode = 1;
      else if (result.outcome === 'offline') process.exitCode = 3;
    });

  program
    .command('run')
    .description('the long-running agent: finish an interrupted install, run the boot check, then check in with the gateway periodically')
    .option('--once', 'do the start-up work and exit (no periodic check)')
    .action(async (opts: { once?: boolean }, command: Command) => {
      const device = await deviceFrom(command);
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const delay = device.config.intervals.bootCheckDelaySeconds;
      if (delay > 0) await new Promise((r) => setTimeout(r, delay * 1000));
      // Queues booted/committed/failed/rolled-back reports; they go out with the next check-in.
      log(describeBootCheck((await bootCheckAndReport(device)).result));
      const resumed = await resumeInstall(device, openerFor(device, log), log).catch((error) => {
        throw explain(error);
      });
      if (resumed.outcome !== 'nothing-to-resume') log(describeInstall(resumed));
      if (opts.once) return;
      const stop = new AbortController();
      const onSignal = () => {
        log('stopping');
        stop.abort();
      };
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
      try {
        if (!device.config.gatewayUrl) {
          log('no gatewayUrl configured: waiting for offline installs (ota-device install)');
          await new Promise<void>((resolve) => {
            const timer = setInterval(() => undefined, 1 << 30);
            stop.signal.addEventListener('abort', () => {
              clearInterval(timer);
              resolve();
            });
          });
          return;
        }
        const token = process.env[device.config.enrollment.tokenEnv];
        await runAgentLoop(device, {
          signal: stop.signal,
          log,
          enrollmentToken: token,
          onRound: (result) => log(describeCheckIn(result)),
        });
      } finally {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
      }
    });

  return program;
}

function nonNegativeInt(flag: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${flag}: expected a non-negative integer, got "${raw}"`);
  return n;
}

export async function main(argv: string[]): Promise<void> {
  await buildDeviceProgram().parseAsync(argv);
}
