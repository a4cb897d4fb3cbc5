// `ota rollout plan` (compiled CLI, no Temporal) for the shipped example policy, and
// `ota rollout start` refusing a sequential ring too small to decide before anything starts.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { projectRoot } from '../../platform/paths.js';
import type { RolloutPlanReport } from '../../rollout/policy-plan.js';
import { ensureDist, OTA_BIN } from '../support/dist.js';

const run = promisify(execFile);
const EXAMPLE = join(projectRoot, 'docs/examples/rollout-policy.yml');

describe('ota rollout plan / start check', () => {
  let skipReason: string | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'rollout-plan-'));
  // Nothing listens here: a command that tried to reach Temporal would fail differently.
  const env = { ...process.env, OTA_STATE_DIR: dir, OTA_TEMPORAL_ADDRESS: '127.0.0.1:1' };
  const ota = (...args: string[]) =>
    run(process.execPath, [OTA_BIN, ...args], { env, timeout: 120_000 }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
    );

  beforeAll(async () => {
    skipReason = await ensureDist();
    if (skipReason) console.error(`\n*** SKIPPING rollout plan CLI test: ${skipReason} ***\n`);
  }, 200_000);

  it('prints per ring size, detectable effect, false halts, time to a decision, and the whole rollout odds', async (ctx) => {
    if (skipReason) return ctx.skip();
    const { code, stdout, stderr } = await ota('rollout', 'plan', '--policy', EXAMPLE, '--hardware', 'gw-x1', '--fleet', '10000', '--noise', '0.02', '--runs', '100', '--seed', '7');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^plan for .*rollout-policy\.yml: 10000 devices, background noise 2\.0%, 100 seeded runs per scenario \(seed 7\)/);
    expect(stdout).toMatch(/^sequential: α 1\.0% split over 4 rings and the tests of each, .*with the control cohort \(devices heartbeat\)/m);
    expect(stdout).toMatch(/^ring\s+devices\s+target\s+tests\s+α\s+β\s+effect\s+detects\s+false halt\s+inconclusive\s+decision/m);
    const twoTests = 'install one-sample \\+ post-commit conditional-binomial';
    expect(stdout).toMatch(new RegExp(`^canary\\s+100\\s+100\\s+${twoTests}\\s+0\\.13%\\s+1\\.0%\\s+\\+18\\.0 pt\\s+\\+\\d+\\.\\d\\d pt\\s+\\d+\\.\\d%\\s+\\d+\\.\\d%\\s+\\d+\\.\\d polls = [\\d.]+h \\(bake 2h, deadline 1d\\)`, 'm'));
    expect(stdout).toMatch(new RegExp(`^early\\s+900\\s+1000\\s+${twoTests}`, 'm'));
    expect(stdout).toMatch(new RegExp(`^wide\\s+1500\\s+2500\\s+${twoTests}`, 'm'));
    expect(stdout).toMatch(/^fleet\s+7500\s+10000\s+install one-sample \+ post-commit one-sample\s+0\.13%/m);
    expect(stdout).toMatch(/good release \(2\.0%\): completes \d+\.\d%/);
    expect(stdout).toMatch(/bad release \+5 pt \(7\.0%\): halted \d+\.\d%/);
    expect(stdout).toMatch(/bad release \+20 pt \(22\.0%\): halted \d+\.\d% \(in canary \d+\.\d%/);
    expect(stdout).toMatch(/^  good, 10% silent: completes \d+\.\d%.*rings ended by their deadline \d+\.\d%, longest ring \d+\.\d% of its deadline$/m);
    expect(stdout).toMatch(/^  fails 20%, reported: completes \d+\.\d%, halted \d+\.\d% \(in canary/m);
    expect(stdout).toMatch(/^  bricks 20%, no report: completes \d+\.\d%, halted \d+\.\d% \(in canary/m);
    expect(stdout).toMatch(/problems: none/);
  });

  it('--json: the same figures for machines, deterministic for a seed, meeting the issue targets for the example', async (ctx) => {
    if (skipReason) return ctx.skip();
    const args = ['rollout', 'plan', '--policy', EXAMPLE, '--hardware', 'gw-x1', '--runs', '100', '--json'];
    const first = await ota(...args);
    expect(first.code).toBe(0);
    const plan = JSON.parse(first.stdout) as RolloutPlanReport;
    expect(JSON.parse((await ota(...args)).stdout)).toEqual(plan);
    expect(plan).toMatchObject({ fleetSize: 10000, noise: 0.02, runs: 100, seed: 1, pollIntervalMs: 60_000, problems: [] });
    expect(plan.rings.map((r) => [r.name, r.devices, r.target, r.mode, r.tests.length])).toEqual([
      ['canary', 100, 100, 'sequential', 2],
      ['early', 900, 1000, 'sequential', 2],
      ['wide', 1500, 2500, 'sequential', 2],
      ['fleet', 7500, 10000, 'sequential', 2],
    ]);
    expect(plan.control).toBe(true);
    for (const ring of plan.rings) {
      if (ring.mode === 'sequential') expect(ring.detectableEffect!).toBeLessThanOrEqual(ring.minEffect!);
      expect(ring.msToDecision).toBeCloseTo(ring.pollsToDecision * 60_000, 6);
    }
    expect(plan.good.completed).toBeGreaterThanOrEqual(0.98);
    expect(plan.bad.map((b) => Math.round(b.excess * 100))).toEqual([5, 20]);
    expect(plan.bad[0]!.haltedBeforeLastRing).toBeGreaterThanOrEqual(0.95);
    expect(plan.bad[1]!.haltedInFirstRing).toBeGreaterThanOrEqual(0.98);
    const [silent, reported, bricked] = plan.scenarios;
    expect([silent!.silentShare, reported!.brickShare, bricked!.brickShare]).toEqual([0.1, 0, 0.2]);
    expect(silent!.completed).toBeGreaterThanOrEqual(0.98);
    expect(silent!.longestWaitVsDeadline!).toBeLessThanOrEqual(1);
    expect(bricked!.haltedInFirstRing).toBeGreaterThanOrEqual(0.98);
    // --no-control: the old view, one test per ring on install outcomes.
    const old = JSON.parse((await ota(...args, '--no-control', '--silent', '0', '--brick', '0')).stdout) as RolloutPlanReport;
    expect(old.control).toBe(false);
    expect(old.scenarios).toEqual([]);
    expect(old.rings.slice(0, 3).map((r) => r.tests)).toEqual(Array(3).fill([{ on: 'install', method: 'one-sample' }]));
  });

  it('refuses policies it cannot plan, with one line and a non-zero exit', async (ctx) => {
    if (skipReason) return ctx.skip();
    const wilson = join(dir, 'wilson.yml');
    const policy = parseYaml(readFileSync(EXAMPLE, 'utf8')) as Record<string, any>;
    writeFileSync(wilson, toYaml({ ...policy, statistics: { mode: 'wilson' }, rings: policy.rings.map(({ minEffect, beta, atDeadline, tripwire, ...r }: Record<string, unknown>) => r) }));
    const r = await ota('rollout', 'plan', '--policy', wilson, '--hardware', 'gw-x1');
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toMatch(/^ota: .*wilson\.yml uses wilson statistics; ota rollout plan needs statistics.mode sequential$/);
    expect((await ota('rollout', 'plan', '--policy', EXAMPLE, '--hardware', 'gw-x2')).stderr).toMatch(/policy targets hardware gw-x1, not gw-x2/);
  });

  it('ota rollout start refuses a sequential ring that can never decide, naming its minimum size; nothing is started', async (ctx) => {
    if (skipReason) return ctx.skip();
    const small = join(dir, 'small-canary.yml');
    const policy = parseYaml(readFileSync(EXAMPLE, 'utf8')) as Record<string, any>;
    policy.rings[0].size = { count: 5 };
    writeFileSync(small, toYaml(policy));
    const r = await ota('rollout', 'start', '--release', '1.1.0', '--hardware', 'gw-x1', '--policy', small);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^ota: refusing .*small-canary\.yml: ring canary \(5 devices\) can never pass a good release or halt one worse by \+18\.0 points at 2\.0% background: it needs at least 31 devices, or declare it tripwire: true \(absolute caps only\) \(see ota rollout plan\)$/);
    // The plan shows the same problem.
    expect((await ota('rollout', 'plan', '--policy', small, '--hardware', 'gw-x1', '--runs', '50')).stdout).toMatch(/problems:\n  - ring canary \(5 devices\) can never pass/);
    // As a tripwire the small canary is accepted by the check (start then goes on to Temporal, which is not there).
    policy.rings[0].tripwire = true;
    delete policy.rings[0].minEffect;
    delete policy.rings[0].beta;
    writeFileSync(small, toYaml(policy));
    const tripwire = await ota('rollout', 'start', '--release', '1.1.0', '--hardware', 'gw-x1', '--policy', small);
    expect(tripwire.stderr).not.toMatch(/refusing/);
  });
});
