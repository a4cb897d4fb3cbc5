// `ota-device run`: the long-running agent (boot check, finish an interrupted install, then check in
// with the gateway periodically until SIGTERM/SIGINT).
import type { Command } from 'commander';
import { runAgentLoop } from '../../device-client/agent/agent-loop.js';
import type { Device } from '../../device-client/agent/device.js';
import { resumeInstall } from '../../device-client/agent/install.js';
import { bootCheckAndReport } from '../../device-client/agent/report-outcome.js';
import { deviceFrom, explain, openerFor } from './context.js';
import { describeBootCheck, describeCheckIn, describeInstall } from './describe.js';

export function registerRunCommand(program: Command): void {
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
      await untilStopped(device, log);
    });
}

/** Checks in periodically (or, without a gateway, just waits for offline installs) until SIGTERM or SIGINT. */
async function untilStopped(device: Device, log: (line: string) => void): Promise<void> {
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
      onHeartbeat: (outcome) => {
        if (outcome.kind === 'sent') log(`heartbeat ${outcome.heartbeat.counter} sent (${outcome.heartbeat.healthChecks.failed} of ${outcome.heartbeat.healthChecks.run} checks failing, ${outcome.heartbeat.bootsSinceLast} boots since the last)`);
      },
    });
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
