// `ota dev up|status|down`: the local stack from temporal-dev.yml, run natively from
// binaries (no Docker). Pids live in <state>/dev/state.json, logs in <state>/dev/<service>.log.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defaultStateDir, projectRoot } from '../../platform/paths.js';
import { readStackState, removeStackState, stackStatePath } from '../../config/stack-state.js';
import { describeDevFleet, liveDevFleetStatus, removeDevFleetStatus } from '../../devstack/dev-fleet-status.js';
import { downStack, statusStack, upStack, type StartOutcome, type StopOutcome } from '../../devstack/stack.js';
import { printResult, progress } from '../output.js';
import { forgetStackServices, recordStackState, revokeStackTokens } from './dev-stack-state.js';
import { registerDevConsoleCommand } from './dev-console.js';
import { registerDevDevicesCommand } from './dev-devices.js';
import { registerSampleImageCommand } from './dev-sample-image.js';

interface FileOptions {
  file: string;
  stateDir: string;
}

/** ./temporal-dev.yml when there is one, else this checkout's: `ota dev` works from any directory. */
function defaultStackFile(): string {
  return existsSync('temporal-dev.yml') ? 'temporal-dev.yml' : join(projectRoot, 'temporal-dev.yml');
}

function withFileOptions(command: Command): Command {
  return command
    .option('-f, --file <file>', 'stack file (default: ./temporal-dev.yml, else the checkout\'s)', defaultStackFile())
    .option('--state-dir <dir>', 'state directory (pids, logs, data); default $OTA_STATE_DIR or .ota', defaultStateDir);
}

function urlLines(urls: Record<string, string>, indent: string): string[] {
  const width = Math.max(0, ...Object.keys(urls).map((k) => k.length));
  return Object.entries(urls).map(([label, url]) => `${indent}${label.padEnd(width)}  ${url}`);
}

function describeOutcome(outcome: StartOutcome): string {
  const head = `${outcome.name.padEnd(10)} `;
  const pad = ' '.repeat(head.length + 2);
  switch (outcome.result) {
    case 'started':
      return [`${head}started (pid ${outcome.pid})`, ...urlLines(outcome.urls, pad)].join('\n');
    case 'already-running':
      return [`${head}${outcome.detail}`, ...urlLines(outcome.urls, pad)].join('\n');
    case 'embedded':
      return [`${head}embedded: ${outcome.detail}`, ...urlLines(outcome.urls, pad)].join('\n');
    case 'skipped':
      return `${head}${outcome.detail}`;
    case 'failed':
      return `${head}FAILED: ${outcome.detail}`;
  }
}

function describeStop(outcome: StopOutcome): string {
  if (outcome.result === 'embedded') return `${outcome.name}: embedded, nothing to stop`;
  if (outcome.result === 'gone') return `${outcome.name}: pid ${outcome.pid} had already exited`;
  return `${outcome.name}: ${outcome.result === 'killed' ? 'killed (did not stop within its grace period)' : 'stopped'} (pid ${outcome.pid})`;
}

/** The stack's operator API, if its state says so (a broken state is `ota dev up`'s to replace, not status's to fail on). */
function safeOperatorApi(stateDir: string) {
  try {
    return readStackState(stateDir)?.operatorApi;
  } catch {
    return undefined;
  }
}

export function registerDevCommands(program: Command): void {
  const dev = program.command('dev').description('run the local stack (Temporal, artifact store, fleet db, worker, gateway) natively');

  withFileOptions(dev.command('up'))
    .description('start services (default: all but the profiled ones, e.g. the replicas) in dependency order and wait until they answer')
    .argument('[service...]', 'services to start, with their dependencies')
    .option('-d, --detach', 'leave the services running and return')
    .action(async (services: string[], opts: FileOptions & { detach?: boolean }) => {
      const controller = new AbortController();
      const interrupt = () => controller.abort();
      process.on('SIGINT', interrupt);
      process.on('SIGTERM', interrupt);
      try {
        const result = await upStack({
          file: opts.file,
          stateDir: opts.stateDir,
          services,
          detach: opts.detach,
          signal: controller.signal,
          progress: (message) => progress({}, message),
        });
        process.stdout.write(`${result.outcomes.map(describeOutcome).join('\n')}\n`);
        if (result.interrupted) {
          process.stderr.write('interrupted: stopped the services started so far\n');
          process.exitCode = 130;
          return;
        }
        if (!result.ok) {
          // The table above holds the detail (command, log tail); stderr gets one line per failure.
          for (const failed of result.outcomes.filter((o) => o.result === 'failed')) process.stderr.write(`${failed.name} failed: ${failed.detail?.split('\n')[0]}\n`);
          process.exitCode = 1;
        }
        // Every `ota` command follows the stack from here on (config/stack-state.ts), until `ota dev down`.
        const recorded = await recordStackState({ file: opts.file, stateDir: opts.stateDir }, result);
        if (recorded) process.stdout.write(`${recorded}\n`);
        if (opts.detach || result.spawned.length === 0) {
          if (opts.detach && result.spawned.length) process.stdout.write(`running in the background; stop with: ota dev down\n`);
          return;
        }
        // Foreground: wait for Ctrl-C (or for every child to exit), then stop what we started.
        process.stdout.write(`running in the foreground; Ctrl-C stops ${result.spawned.join(', ')}\n`);
        let alive = result.children.size;
        for (const [name, child] of result.children) {
          child.once('exit', (code, signal) => {
            if (!controller.signal.aborted) process.stderr.write(`${name} exited (${signal ?? `code ${code}`}); see its log under ${opts.stateDir}/dev/\n`);
            if (--alive === 0) controller.abort();
          });
        }
        if (!controller.signal.aborted) await new Promise((resolve) => controller.signal.addEventListener('abort', resolve, { once: true }));
        const stopped = await downStack({ file: opts.file, stateDir: opts.stateDir, services: result.spawned, progress: (m) => progress({}, m) });
        forgetStackServices(opts.stateDir, stopped.map((s) => s.name));
        process.stdout.write(`${stopped.map(describeStop).join('\n')}\n`);
      } finally {
        process.off('SIGINT', interrupt);
        process.off('SIGTERM', interrupt);
      }
    });

  withFileOptions(dev.command('status'))
    .description('show each service: running/stopped/not-started/embedded, pid, address, answering')
    .option('--json', 'print JSON')
    .action(async (opts: FileOptions & { json?: boolean }) => {
      const statuses = await statusStack({ file: opts.file, stateDir: opts.stateDir });
      const devices = liveDevFleetStatus(opts.stateDir);
      const api = safeOperatorApi(opts.stateDir);
      const consoleUrl = api && `${api.url}/console/`;
      printResult(opts, { services: statuses, ...(devices && { devices }), ...(consoleUrl && { console: { url: consoleUrl, signIn: 'ota dev console' } }) }, () => {
        const rows = statuses.map((s) => [s.name, s.state, s.pid ? String(s.pid) : '-', s.answering ? 'yes' : 'no', s.addresses.join(', ') || '-']);
        const header = ['SERVICE', 'STATE', 'PID', 'ANSWERING', 'ADDRESS'];
        const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
        const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
        const notes = statuses.flatMap((s) => [
          ...(s.state === 'running' || s.state === 'embedded' ? urlLines(s.urls, `  ${s.name}: `) : []),
          ...(s.note ? [`  ${s.name}: ${s.note}`] : []),
        ]);
        const following = existsSync(stackStatePath(opts.stateDir)) ? ['', `ota commands follow this stack (${stackStatePath(opts.stateDir)})`] : [];
        const fleet = devices ? ['', `devices: ${describeDevFleet(devices)}`] : [];
        const signIn = consoleUrl ? ['', `console: ${consoleUrl} (ota dev console prints a token to sign in with)`] : [];
        return [line(header), ...rows.map(line), ...(notes.length ? ['', ...notes] : []), ...fleet, ...signIn, ...following].join('\n');
      });
    });

  withFileOptions(dev.command('down'))
    .description(`stop the services \`ota dev up\` started (by recorded pid) and clear the state (commands stop following the stack: ${stackStatePath('<state>')})`)
    .argument('[service...]', 'services to stop (default: all recorded)')
    .option('--json', 'print JSON')
    .action(async (services: string[], opts: FileOptions & { json?: boolean }) => {
      const everything = services.length === 0 || services.includes('fleet-db') || services.includes('api');
      for (const line of everything ? await revokeStackTokens(opts.stateDir) : []) progress(opts, line);
      const stopped = await downStack({ file: opts.file, stateDir: opts.stateDir, services: services.length ? services : undefined, progress: (m) => progress(opts, m) });
      if (services.length === 0) {
        removeStackState(opts.stateDir);
        removeDevFleetStatus(opts.stateDir);
      }
      else forgetStackServices(opts.stateDir, services);
      printResult(opts, { stopped }, () => (stopped.length ? stopped.map(describeStop).join('\n') : 'nothing recorded as running'));
    });

  registerSampleImageCommand(dev);
  registerDevDevicesCommand(dev, withFileOptions);
  registerDevConsoleCommand(dev);
}
