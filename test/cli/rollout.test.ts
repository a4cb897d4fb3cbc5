// The operator's commands for real: `ota rollout start|status|approve|pause|resume|abort|list`
// (compiled CLI) against `ota serve` (gateway + worker + PGlite) and a real Temporal dev server.
// Bad calls get an answer with a reason and a non-zero exit.
import { execFile, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { RolloutStatus } from '../../rollout/types.js';
import { ensureDist, OTA_BIN } from '../support/dist.js';
import { freePort } from '../../platform/free-port.js';
import { HARDWARE, ReleaseHarness } from '../support/release-harness.js';
import { ENROLLMENT_TOKEN, enrollFleet } from '../support/rollout-fleet.js';
import { otaServeEnv, spawnOtaServe } from '../support/ota-serve.js';
import { startTemporal } from '../support/temporal.js';

const run = promisify(execFile);
const QUEUE = 'rollout-cli';

describe('ota rollout commands', () => {
  let skipReason: string | undefined;
  let env: TestWorkflowEnvironment;
  let releases: ReleaseHarness;
  let serve: ChildProcess | undefined;
  let cliEnv: NodeJS.ProcessEnv;
  let gatewayUrl: string;
  let apiUrl: string;

  const ota = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    run(process.execPath, [OTA_BIN, ...args], { env: cliEnv, timeout: 60_000 }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
    );

  beforeAll(async () => {
    skipReason = await ensureDist();
    if (skipReason) {
      console.error(`\n*** SKIPPING rollout CLI test: ${skipReason} ***\n`);
      return;
    }
    ({ env } = await startTemporal());
    releases = await ReleaseHarness.start(env.address, 'rollout-cli-releases');
    await releases.publishSampleReleases(['1.0.0', '1.1.0'], releases.stateDir);
    const port = await freePort();
    gatewayUrl = `http://127.0.0.1:${port}`;
    cliEnv = otaServeEnv(releases, env.address, QUEUE);
    apiUrl = `http://127.0.0.1:${await freePort()}`;
    serve = await spawnOtaServe(port, cliEnv, ['--release-policy', 'rollouts', '--log-level', 'ERROR', '--api-port', new URL(apiUrl).port]);
    await enrollFleet(releases, { url: gatewayUrl, sharedToken: ENROLLMENT_TOKEN }, 4);
  }, 180_000);

  afterAll(async () => {
    serve?.kill('SIGTERM');
    await releases?.close();
    await env?.teardown();
  });

  it('start, approve, pause, resume, abort and list, with reasons for bad calls', async (ctx) => {
    if (skipReason) return ctx.skip();
    const policyFile = join(releases.stateDir, 'policy.yml');
    writeFileSync(
      policyFile,
      [
        'target: { hardware: ' + HARDWARE + ' }',
        'rings:',
        '  - { name: canary, size: { count: 2 }, bakeTime: 1h, minReports: 2, thresholds: { failureRate: 0.2, maxFailures: 0 }, onBreach: halt, approval: true }',
        '  - { name: fleet, size: { percent: 100 }, bakeTime: 1h, minReports: 4, thresholds: { failureRate: 0.2, maxFailures: 0 }, onBreach: halt }',
        'exposureBudget: { percent: 100 }',
        'maxConcurrentInstalls: 4',
        'pollInterval: 200ms',
      ].join('\n'),
    );
    const bad = await ota('rollout', 'start', '--release', '1.1.0', '--hardware', HARDWARE, '--policy', join(releases.stateDir, 'missing.yml'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/cannot read file/);

    const started = await ota('rollout', 'start', '--release', '1.1.0', '--hardware', HARDWARE, '--policy', policyFile, '--json');
    expect(started.code).toBe(0);
    const { rolloutId } = JSON.parse(started.stdout) as { rolloutId: string };

    const status = async () => JSON.parse((await ota('rollout', 'status', rolloutId, '--json')).stdout) as RolloutStatus;
    let s = await status();
    for (let i = 0; i < 50 && s.state !== 'waiting-approval'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      s = await status();
    }
    expect(s).toMatchObject({ state: 'waiting-approval', waitingApprovalFor: 'canary' });
    const human = await ota('rollout', 'status', rolloutId);
    expect(human.stdout).toContain('ring canary waits for approval');

    const approved = await ota('rollout', 'approve', rolloutId, '--reason', 'looked at the release notes');
    expect(approved).toMatchObject({ code: 0 });
    expect(approved.stdout).toContain('approved ring canary');
    const again = await ota('rollout', 'approve', rolloutId);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/approve refused: .*nothing is waiting for approval/);

    expect((await ota('rollout', 'pause', rolloutId, '--reason', 'change freeze')).code).toBe(0);
    for (let i = 0; i < 50 && !s.paused; i++) {
      await new Promise((r) => setTimeout(r, 200));
      s = await status();
    }
    expect(s.paused).toBe(true);
    expect((await ota('rollout', 'resume', rolloutId)).code).toBe(0);

    const aborted = await ota('rollout', 'abort', rolloutId, '--reason', 'test over');
    expect(aborted.stdout).toContain('aborting');
    for (let i = 0; i < 50 && s.state !== 'aborted'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      s = await status();
    }
    expect(s.state).toBe('aborted');
    expect(s.decisions.map((d) => d.action)).toEqual(expect.arrayContaining(['approve', 'pause', 'resume', 'abort']));
    expect(s.decisions.find((d) => d.action === 'approve')?.reason).toBe('looked at the release notes');
    const twice = await ota('rollout', 'abort', rolloutId);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/abort refused/);

    // `ota serve --api-port` mounts the operator API on the same fleet store: it answers, and wants a token.
    expect((await fetch(`${apiUrl}/healthz`)).status).toBe(200);
    const refused = await fetch(`${apiUrl}/v1/rollouts/${rolloutId}`);
    expect([refused.status, ((await refused.json()) as { error: { code: string } }).error.code]).toEqual([401, 'MISSING_TOKEN']);
    // And the web console on the same port (docs/console.md): a sign-in form, and no page without a session.
    expect(await (await fetch(`${apiUrl}/console/sign-in`)).text()).toContain('action="/console/sign-in"');
    expect((await fetch(`${apiUrl}/console/rollouts`, { redirect: 'manual' })).headers.get('location')).toBe('/console/sign-in');

    // Visibility is eventually consistent: the search attribute catches up within moments.
    let listed: Array<{ id: string; state?: string }> = [];
    for (let i = 0; i < 50 && !listed.some((r) => r.id === rolloutId); i++) {
      listed = JSON.parse((await ota('rollout', 'list', '--state', 'aborted', '--release', '1.1.0', '--json')).stdout);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(listed.find((r) => r.id === rolloutId)).toMatchObject({ state: 'aborted' });
  }, 120_000);
});
