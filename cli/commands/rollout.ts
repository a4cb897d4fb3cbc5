// `ota rollout start|status|list|pause|resume|approve|abort`: operators drive rollouts
// through Temporal messages; the workflow answers or gives a reason.
import type { Command } from 'commander';
import { hostname, userInfo } from 'node:os';
import { checkRolloutRequest, controlRollout, listRollouts, rolloutStatus, startRollout, type RolloutControl } from '../../operator/rollout-service.js';
import { readPolicyFile } from '../../rollout/policy-file.js';
import { planRollout, sequentialStatistics } from '../../rollout/policy-plan.js';
import { isFinalRolloutState } from '../../rollout/progress.js';
import type { RolloutStatus } from '../../rollout/types.js';
import { hardwareIdSchema } from '../../schemas/manifest.js';
import { connectClient } from '../../temporal/client.js';
import { configFrom } from '../context.js';
import { callOperatorApi, withServerOption, type ServerOption } from '../operator-client.js';
import { printResult } from '../output.js';
import { renderRolloutStatus } from './rollout-format.js';
import { renderRolloutPlan } from './rollout-plan-format.js';

function wholeNumber(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be a whole number ≥ ${min}, got ${text}`);
  return n;
}

function rate(name: string, text: string, what = 'a failure rate in [0, 1), e.g. 0.02'): number {
  const n = Number(text);
  if (!(n >= 0 && n < 1)) throw new Error(`${name} must be ${what}, got ${text}`);
  return n;
}

function operator(): string {
  return `${userInfo().username}@${hostname()}`;
}

export function registerRolloutCommands(program: Command): void {
  const rollout = program.command('rollout').description('move a release through canary rings with automatic halt and rollback');

  withServerOption(rollout.command('start'))
    .description('start a rollout of a published release under a policy')
    .requiredOption('--release <version>', 'release version to roll out')
    .requiredOption('--hardware <id>', 'hardware id')
    .requiredOption('--policy <file>', 'rollout policy (YAML or JSON)')
    .option('--channel <name>', 'release channel', 'stable')
    .option('--id <rollout-id>', 'rollout id (default: rollout-<hardware>-<release>-<time>)')
    .option('--fleet <devices>', 'targeted fleet size for checking percent-sized rings of a sequential policy (count-sized rings are always checked)')
    .option('--json', 'print the rollout id and initial status as JSON')
    .action(async (opts: ServerOption & { release: string; hardware: string; policy: string; channel: string; id?: string; fleet?: string; json?: boolean }, command: Command) => {
      const policy = readPolicyFile(opts.policy);
      const fleetSize = opts.fleet === undefined ? undefined : wholeNumber('--fleet', opts.fleet, 1);
      const started = (result: { rolloutId: string; releaseVersion: string; hardwareId: string }) =>
        printResult(opts, result, () => `started ${result.rolloutId}: ${result.releaseVersion} to ${result.hardwareId} under ${opts.policy}\nwatch it with: ota rollout status ${result.rolloutId} --watch`);
      if (opts.server) {
        return started(await callOperatorApi(opts.server, 'POST', '/v1/rollouts', { release: opts.release, hardware: opts.hardware, channel: opts.channel, policy, id: opts.id, fleet: fleetSize }));
      }
      const config = configFrom(command);
      const request = { releaseVersion: opts.release, hardwareId: opts.hardware, channel: opts.channel, policy, policySource: opts.policy, startedBy: operator(), rolloutId: opts.id, fleetSize };
      checkRolloutRequest(request); // a policy that cannot decide is refused without Temporal
      const { client, close } = await connectClient(config.temporal);
      try {
        started(await startRollout(client, config.temporal.taskQueue, request));
      } finally {
        await close();
      }
    });

  rollout
    .command('plan')
    .description('what a sequential policy can detect, its false-halt odds and time to decisions, from seeded simulations (no Temporal needed)')
    .requiredOption('--policy <file>', 'rollout policy (YAML or JSON), statistics.mode sequential')
    .requiredOption('--hardware <id>', 'hardware id the policy targets')
    .option('--fleet <devices>', 'targeted fleet size', '10000')
    .option('--noise <rate>', 'background failure rate of every device (default: the policy\'s baselineRate)')
    .option('--runs <n>', 'seeded rollouts per scenario', '1000')
    .option('--seed <n>', 'base seed', '1')
    .option('--reports-per-poll <n>', 'devices offered (and reporting) per poll interval', '20')
    .option('--silent <share>', 'share of devices that never check in, for the silent-devices row (0: no row)', '0.1')
    .option('--brick <share>', 'share of devices a bad release bricks without a report, beside the same failures reported (0: no rows)', '0.2')
    .option('--no-control', 'plan without the control cohort (devices do not heartbeat): one-sample test on install outcomes only')
    .option('--json', 'print the plan as JSON')
    .action((opts: { policy: string; hardware: string; fleet: string; noise?: string; runs: string; seed: string; reportsPerPoll: string; silent: string; brick: string; control: boolean; json?: boolean }) => {
      const policy = readPolicyFile(opts.policy);
      const hardwareId = hardwareIdSchema.parse(opts.hardware);
      if (policy.target.hardware !== hardwareId) throw new Error(`policy targets hardware ${policy.target.hardware}, not ${hardwareId}`);
      const stats = sequentialStatistics(policy);
      if (!stats) throw new Error(`${opts.policy} uses ${policy.statistics.mode} statistics; ota rollout plan needs statistics.mode sequential`);
      const report = planRollout(policy, {
        fleetSize: wholeNumber('--fleet', opts.fleet, 1),
        noise: opts.noise === undefined ? stats.baselineRate : rate('--noise', opts.noise),
        runs: wholeNumber('--runs', opts.runs, 1),
        seed: wholeNumber('--seed', opts.seed, 0),
        reportsPerPoll: wholeNumber('--reports-per-poll', opts.reportsPerPoll, 1),
        silentShare: rate('--silent', opts.silent, 'a share of devices in [0, 1), e.g. 0.1'),
        brickShare: rate('--brick', opts.brick, 'a share of devices in [0, 1), e.g. 0.2'),
        control: opts.control,
      });
      printResult(opts, report, () => renderRolloutPlan(report, opts.policy));
    });

  withServerOption(
    rollout
      .command('status <id>')
      .description('rings, per-ring counts, verdicts with their figures, exposure, recent decisions')
      .option('--watch', 'refresh until the rollout ends')
      .option('--interval <seconds>', 'refresh interval for --watch', '2')
      .option('--json', 'print the status as JSON'),
  ).action(async (id: string, opts: ServerOption & { watch?: boolean; interval: string; json?: boolean }, command: Command) => {
    await withStatusSource(command, opts, id, async (read) => {
      let last = '';
      for (;;) {
        const status = await read();
        if (!opts.watch) {
          printResult(opts, status, () => renderRolloutStatus(status));
          return;
        }
        const text = opts.json ? JSON.stringify(status) : renderRolloutStatus(status);
        if (text !== last) process.stdout.write(`${text}\n${opts.json ? '' : '\n'}`);
        last = text;
        if (isFinalRolloutState(status.state)) return;
        await new Promise((r) => setTimeout(r, Number(opts.interval) * 1000));
      }
    });
  });

  rollout
    .command('list')
    .description('rollouts, newest first')
    .option('--state <state>', 'only rollouts in this state (running, halted, completed, ...)')
    .option('--release <version>', 'only rollouts of this release')
    .option('--hardware <id>', 'only rollouts of this hardware id')
    .option('--json', 'print as JSON')
    .action(async (opts: { state?: string; release?: string; hardware?: string; json?: boolean }, command: Command) => {
      const config = configFrom(command);
      const { client, close } = await connectClient(config.temporal);
      try {
        const rows = await listRollouts(client, opts);
        printResult(opts, rows, () =>
          rows.length === 0
            ? 'no rollouts'
            : rows.map((r) => `${r.id.padEnd(44)} ${(r.hardware ?? '').padEnd(12)} ${(r.release ?? '').padEnd(10)} ${(r.state ?? r.status).padEnd(16)} ${r.started}`).join('\n'),
        );
      } finally {
        await close();
      }
    });

  const controls: Array<{ name: RolloutControl; description: string }> = [
    { name: 'pause', description: 'stop widening (devices already offered continue)' },
    { name: 'resume', description: 'continue a paused rollout, or retry a halted ring' },
    { name: 'approve', description: 'approve the ring that waits for a person (through --server: not by the one who started it)' },
    { name: 'abort', description: 'stop the rollout: devices not yet updated are held' },
  ];
  for (const { name, description } of controls) {
    withServerOption(
      rollout
        .command(`${name} <id>`)
        .description(description)
        .option('--reason <text>', 'why (recorded with the decision)')
        .option('--json', 'print the answer as JSON'),
    ).action(async (id: string, opts: ServerOption & { reason?: string; json?: boolean }, command: Command) => {
      let answer: string;
      if (opts.server) {
        ({ answer } = await callOperatorApi<{ answer: string }>(opts.server, 'POST', `/v1/rollouts/${encodeURIComponent(id)}/${name}`, { reason: opts.reason }));
      } else {
        const { client, close } = await connectClient(configFrom(command).temporal);
        try {
          answer = await controlRollout(client, id, name, { reason: opts.reason, by: operator() });
        } finally {
          await close();
        }
      }
      printResult(opts, { id, action: name, answer }, () => answer);
    });
  }
}

/** Where a status comes from: the operator API with --server, else Temporal directly. */
async function withStatusSource(command: Command, opts: ServerOption, id: string, use: (read: () => Promise<RolloutStatus>) => Promise<void>): Promise<void> {
  if (opts.server) return use(() => callOperatorApi<RolloutStatus>(opts.server!, 'GET', `/v1/rollouts/${encodeURIComponent(id)}`));
  const { client, close } = await connectClient(configFrom(command).temporal);
  try {
    await use(() => rolloutStatus(client, id));
  } finally {
    await close();
  }
}
