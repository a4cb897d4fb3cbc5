// `ota dev devices`: simulated devices for the running dev stack (devstack/dev-fleet.ts), admitted per
// device at its gateway, starting on a published release; in the foreground, or with --detach in a
// background process that `ota dev status` shows and `ota dev down` stops.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { readStackState } from '../../config/stack-state.js';
import { runDevFleet, stackGatewayUrl } from '../../devstack/dev-fleet.js';
import { devFleetLogPath, liveDevFleetStatus, readDevFleetStatus, type DevFleetStatus } from '../../devstack/dev-fleet-status.js';
import { logTail } from '../../devstack/logs.js';
import { isAlive } from '../../devstack/processes.js';
import { openStack } from '../../devstack/stack.js';
import { projectRoot } from '../../platform/paths.js';
import { parseDuration } from '../../rollout/duration.js';
import { deviceIdSchema } from '../../schemas/device-api.js';
import { channelSchema, hardwareIdSchema, semverSchema } from '../../schemas/manifest.js';
import { openArtifactStore } from '../../stores/open-store.js';
import { configFrom } from '../context.js';
import { printResult, progress } from '../output.js';

interface DevicesFlags {
  file: string;
  stateDir: string;
  count: string;
  version: string;
  hardware: string;
  channel: string;
  every: string;
  prefix?: string;
  detach?: boolean;
  json?: boolean;
}

const MAX_DEVICES = 1000;
/** How long --detach waits for the background process to enroll every device. */
const ENROLL_WAIT_MS = 180_000;

function checked<T>(flag: string, parse: (raw: string) => { success: true; data: T } | { success: false }, raw: string, expected: string): T {
  const parsed = parse(raw);
  if (!parsed.success) throw new Error(`${flag}: expected ${expected}, got "${raw}"`);
  return parsed.data;
}

export function registerDevDevicesCommand(dev: Command, withFileOptions: (command: Command) => Command): void {
  withFileOptions(dev.command('devices'))
    .description('simulated devices for the running stack: each preauthorized with its own key, enrolled at its gateway, checking in, installing what they are offered, reporting and heartbeating')
    .requiredOption('--count <n>', `how many devices (1 to ${MAX_DEVICES})`)
    .requiredOption('--version <semver>', 'the published release they start on, e.g. 1.0.0')
    .option('--hardware <id>', 'their hardware id', 'gw-demo')
    .option('--channel <channel>', 'the channel they follow (the operator preauthorizes it)', 'stable')
    .option('--every <duration>', 'check-in and heartbeat round (a dev fleet: far shorter than a real device, so a rollout moves while you watch)', '1s')
    .option('--prefix <prefix>', 'device ids are <prefix>-00000 ... (default: dev-<4 random hex>, new ids each time)')
    .option('-d, --detach', 'run them in the background (stopped by ota dev down) and return once every device is enrolled')
    .option('--json', 'print JSON')
    .action(async (opts: DevicesFlags, command: Command) => {
      const count = Number(opts.count);
      if (!Number.isInteger(count) || count < 1 || count > MAX_DEVICES) throw new Error(`--count must be a whole number from 1 to ${MAX_DEVICES}, got "${opts.count}"`);
      const version = checked('--version', (r) => semverSchema.safeParse(r), opts.version, 'a version like 1.0.0');
      const hardwareId = checked('--hardware', (r) => hardwareIdSchema.safeParse(r), opts.hardware, 'a hardware id');
      const channel = checked('--channel', (r) => channelSchema.safeParse(r), opts.channel, 'a channel name');
      const everySeconds = parseDuration(opts.every) / 1000;
      if (!(everySeconds >= 0.2 && everySeconds <= 3600)) throw new Error(`--every must be from 200ms to 1h, got "${opts.every}"`);
      const prefix = opts.prefix ?? `dev-${randomBytes(2).toString('hex')}`;
      checked('--prefix', (r) => deviceIdSchema.safeParse(r), `${prefix}-00000`, 'a device id prefix (A-Z a-z 0-9 . _ : -)');

      const stateDir = resolve(opts.stateDir);
      const stackState = readStackState(stateDir);
      if (!stackState) throw new Error(`no dev stack runs from ${stateDir}: start one with \`ota dev up --detach\` first`);
      const running = liveDevFleetStatus(stateDir);
      if (running && (running.state === 'enrolling' || running.state === 'running')) throw new Error(`simulated devices already run from this stack (pid ${running.pid}); \`ota dev down\` stops them with the stack`);
      const gatewayUrl = stackGatewayUrl(openStack({ file: opts.file, stateDir }).stack);
      if (!gatewayUrl) throw new Error(`${opts.file} has no gateway service with an http readiness probe: nowhere for devices to connect`);
      const health = await fetch(`${gatewayUrl}/healthz`).then((r) => r.ok, () => false);
      if (!health) throw new Error(`the stack's gateway ${gatewayUrl} does not answer; \`ota dev status\` shows what runs`);
      const config = configFrom(command);
      if (!config.fleet.databaseUrl.startsWith('postgres')) throw new Error(`the stack's fleet database is ${config.fleet.databaseUrl.split(':')[0]} (embedded PGlite has one opener, the gateway): devices cannot be preauthorized from here; install PostgreSQL`);

      if (opts.detach) {
        const status = await startInBackground(opts, { stateDir, prefix });
        printResult(opts, { ...status, log: devFleetLogPath(stateDir) }, () =>
          [
            `${status.count} simulated ${status.hardwareId} devices enrolled on ${version} (${status.ids.first} .. ${status.ids.last}), each preauthorized with its own key, checking in every ${status.everySeconds}s at ${status.gatewayUrl}`,
            `running in the background (pid ${status.pid}, log ${devFleetLogPath(stateDir)}); ota dev status shows them, ota dev down stops them`,
          ].join('\n'),
        );
        return;
      }

      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const store = openArtifactStore(config.store);
      try {
        await runDevFleet({
          stateDir,
          count,
          version,
          hardwareId,
          channel,
          idPrefix: prefix,
          everySeconds,
          gatewayUrl,
          fleetDatabaseUrl: config.fleet.databaseUrl,
          store,
          trustRootPath: config.trust.trustedRootPath,
          signal: controller.signal,
          say: (line) => progress(opts, `${new Date().toISOString()} ${line}`),
        });
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        await store.close();
      }
      const last = readDevFleetStatus(stateDir);
      if (opts.json && last) printResult(opts, last, () => '');
    });
}

/** The same command without --detach, in its own process group (as `ota dev up` starts services), its output in the log. */
async function startInBackground(opts: DevicesFlags, at: { stateDir: string; prefix: string }): Promise<DevFleetStatus> {
  const log = devFleetLogPath(at.stateDir);
  mkdirSync(dirname(log), { recursive: true });
  const args = ['dev', 'devices', '--count', opts.count, '--version', opts.version, '--hardware', opts.hardware, '--channel', opts.channel, '--every', opts.every, '--prefix', at.prefix, '--state-dir', at.stateDir, '--file', resolve(opts.file)];
  const fd = openSync(log, 'a');
  let pid: number | undefined;
  try {
    const child = spawn(process.execPath, [join(projectRoot, 'bin', 'ota.js'), ...args], { detached: true, stdio: ['ignore', fd, fd], env: process.env });
    child.unref();
    pid = child.pid;
  } finally {
    closeSync(fd);
  }
  if (pid === undefined) throw new Error(`could not start the device process (${process.execPath}); see ${log}`);
  progress(opts, `devices: starting ${opts.count} in the background (pid ${pid}, log ${log}); waiting until each is enrolled`);
  const deadline = Date.now() + ENROLL_WAIT_MS;
  for (;;) {
    const status = readDevFleetStatus(at.stateDir);
    if (status?.pid === pid && status.state === 'running') return status;
    if (status?.pid === pid && status.state === 'failed') throw new Error(`the simulated devices failed: ${status.reason}; see ${log}`);
    if (!isAlive(pid)) throw new Error(`the device process (pid ${pid}) exited before every device was enrolled; last lines of ${log}:\n${logTail(log)}`);
    if (Date.now() > deadline) throw new Error(`the devices were not all enrolled within ${ENROLL_WAIT_MS / 1000}s (pid ${pid} still runs; ota dev down stops it); see ${log}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
