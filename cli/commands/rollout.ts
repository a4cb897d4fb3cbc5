// `ota rollout start|status|list|pause|resume|approve|abort`: operators drive rollouts
// through Temporal messages; the workflow answers or gives a reason.
import type { Command } from 'commander';
import { hostname, userInfo } from 'node:os';
import { WorkflowIdConflictPolicy } from '@temporalio/client';
import { readPolicyFile } from '../../rollout/policy-file.js';
import { capabilityProblems, planRollout, sequentialStatistics } from '../../rollout/policy-plan.js';
import { isFinalRolloutState } from '../../rollout/progress.js';
import type { RolloutRequest } from '../../rollout/types.js';
import { hardwareIdSchema, semverSchema } from '../../schemas/manifest.js';
import { connectClient } from '../../temporal/client.js';
import { failureMessage } from '../../temporal/failure-message.js';
import { abortUpdate, approveUpdate, pauseSignal, resumeSignal, rolloutStatusQuery, rolloutWorkflow } from '../../workflows/rollout.js';
import { configFrom } from '../context.js';
import { printResult } from '../output.js';
import { renderRolloutStatus } from './rollout-format.js';
import { renderRolloutPlan } from './rollout-plan-format.js';

/** Visibility queries name the workflow type: the function's name, as the worker registers it. */
const ROLLOUT_WORKFLOW_TYPE = rolloutWorkflow.name;

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

  rollout
    .command('start')
    .description('start a rollout of a published release under a policy')
    .requiredOption('--release <version>', 'release version to roll out')
    .requiredOption('--hardware <id>', 'hardware id')
    .requiredOption('--policy <file>', 'rollout policy (YAML or JSON)')
    .option('--channel <name>', 'release channel', 'stable')
    .option('--id <rollout-id>', 'rollout id (default: rollout-<hardware>-<release>-<time>)')
    .option('--fleet <devices>', 'targeted fleet size for checking percent-sized rings of a sequential policy (count-sized rings are always checked)')
    .option('--json', 'print the rollout id and initial status as JSON')
    .action(async (opts: { release: string; hardware: string; policy: string; channel: string; id?: string; fleet?: string; json?: boolean }, command: Command) => {
      const config = configFrom(command);
      const policy = readPolicyFile(opts.policy);
      const hardwareId = hardwareIdSchema.parse(opts.hardware);
      const releaseVersion = semverSchema.parse(opts.release);
      if (policy.target.hardware !== hardwareId) throw new Error(`policy targets hardware ${policy.target.hardware}, not ${hardwareId}`);
      // A sequential ring that can never decide would hold every rollout: refuse before anything starts.
      const fleetSize = opts.fleet === undefined ? undefined : wholeNumber('--fleet', opts.fleet, 1);
      // Without --fleet, percent rings resolve as on a very large fleet: only count-sized rings can fail the check.
      const problem = capabilityProblems(policy, fleetSize ?? Number.MAX_SAFE_INTEGER)[0];
      if (problem) throw new Error(`refusing ${opts.policy}: ${problem.message} (see ota rollout plan)`);
      const rolloutId = opts.id ?? `rollout-${hardwareId}-${releaseVersion}-${Date.now().toString(36)}`;
      const { client, close } = await connectClient(config.temporal);
      try {
        const running = client.workflow.list({ query: `WorkflowType = '${ROLLOUT_WORKFLOW_TYPE}' AND OtaHardware = '${hardwareId}' AND ExecutionStatus = 'Running'` });
        for await (const execution of running) {
          throw new Error(`rollout ${execution.workflowId} of ${hardwareId} is still running; wait for it to finish or abort it (ota rollout abort ${execution.workflowId})`);
        }
        const request: RolloutRequest = { rolloutId, hardwareId, channel: opts.channel, releaseVersion, policy, requestedBy: operator() };
        await client.workflow.start(rolloutWorkflow, {
          taskQueue: config.temporal.taskQueue,
          workflowId: rolloutId,
          args: [request],
          workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
          searchAttributes: { OtaHardware: [hardwareId], OtaRelease: [releaseVersion], OtaRolloutState: ['starting'] },
        });
        printResult(opts, { rolloutId, hardwareId, releaseVersion }, () => `started ${rolloutId}: ${releaseVersion} to ${hardwareId} under ${opts.policy}\nwatch it with: ota rollout status ${rolloutId} --watch`);
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

  rollout
    .command('status <id>')
    .description('rings, per-ring counts, verdicts with their figures, exposure, recent decisions')
    .option('--watch', 'refresh until the rollout ends')
    .option('--interval <seconds>', 'refresh interval for --watch', '2')
    .option('--json', 'print the status as JSON')
    .action(async (id: string, opts: { watch?: boolean; interval: string; json?: boolean }, command: Command) => {
      const config = configFrom(command);
      const { client, close } = await connectClient(config.temporal);
      try {
        const handle = client.workflow.getHandle(id);
        let last = '';
        for (;;) {
          const status = await handle.query(rolloutStatusQuery);
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
      } catch (err) {
        throw new Error(failureMessage(err));
      } finally {
        await close();
      }
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
      const filters = [`WorkflowType = '${ROLLOUT_WORKFLOW_TYPE}'`];
      const quote = (v: string) => `'${v.replace(/'/g, '')}'`;
      if (opts.state) filters.push(`OtaRolloutState = ${quote(opts.state)}`);
      if (opts.release) filters.push(`OtaRelease = ${quote(opts.release)}`);
      if (opts.hardware) filters.push(`OtaHardware = ${quote(opts.hardware)}`);
      const { client, close } = await connectClient(config.temporal);
      try {
        const rows: Array<{ id: string; hardware?: string; release?: string; state?: string; status: string; started: string }> = [];
        for await (const e of client.workflow.list({ query: filters.join(' AND ') })) {
          const sa = e.searchAttributes as Record<string, unknown[] | undefined>;
          rows.push({
            id: e.workflowId,
            hardware: sa.OtaHardware?.[0] as string | undefined,
            release: sa.OtaRelease?.[0] as string | undefined,
            state: sa.OtaRolloutState?.[0] as string | undefined,
            status: e.status.name,
            started: e.startTime.toISOString(),
          });
        }
        printResult(opts, rows, () =>
          rows.length === 0
            ? 'no rollouts'
            : rows.map((r) => `${r.id.padEnd(44)} ${(r.hardware ?? '').padEnd(12)} ${(r.release ?? '').padEnd(10)} ${(r.state ?? r.status).padEnd(16)} ${r.started}`).join('\n'),
        );
      } finally {
        await close();
      }
    });

  const controls = [
    { name: 'pause', signal: pauseSignal, description: 'stop widening (devices already offered continue)' },
    { name: 'resume', signal: resumeSignal, description: 'continue a paused rollout, or retry a halted ring' },
    { name: 'approve', update: approveUpdate, description: 'approve the ring that waits for a person' },
    { name: 'abort', update: abortUpdate, description: 'stop the rollout: devices not yet updated are held' },
  ] as const;
  for (const control of controls) {
    const { name, description } = control;
    rollout
      .command(`${name} <id>`)
      .description(description)
      .option('--reason <text>', 'why (recorded with the decision)')
      .option('--json', 'print the answer as JSON')
      .action(async (id: string, opts: { reason?: string; json?: boolean }, command: Command) => {
        const config = configFrom(command);
        const { client, close } = await connectClient(config.temporal);
        const input = { reason: opts.reason, by: operator() };
        try {
          const handle = client.workflow.getHandle(id);
          let answer: string;
          if ('signal' in control) {
            await handle.signal(control.signal, input);
            answer = `${name} sent to ${id}`;
          } else {
            try {
              answer = await handle.executeUpdate(control.update, { args: [input] });
            } catch (err) {
              throw new Error(`${name} refused: ${failureMessage(err)}`);
            }
          }
          printResult(opts, { id, action: name, answer }, () => answer);
        } finally {
          await close();
        }
      });
  }
}
