// Commands that follow a dev stack which no longer answers (its state file left behind, the
// services gone): each prints one line naming what failed, why, and what to do about the stack,
// exits 1, and shows no stack trace; --verbose adds the full error.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { stackStatePath, writeStackState } from '../../config/stack-state.js';
import { freePort } from '../../platform/free-port.js';
import { projectRoot } from '../../platform/paths.js';
import { ensureDist } from '../support/dist.js';
import { otaIn, type OtaRun } from '../support/ota-cli.js';

const STACK_FRAME = /^\s+at .+[(:]/m;

describe('commands against a dev stack that is gone', () => {
  let skipReason: string | undefined;
  let state: string;
  let ota: (args: string[]) => Promise<OtaRun>;
  let hint: string;

  beforeAll(async () => {
    skipReason = await ensureDist();
    state = mkdtempSync(join(tmpdir(), 'ota-stack-gone-'));
    const [temporal, s3, db, api] = [await freePort(), await freePort(), await freePort(), await freePort()];
    writeStackState(state, {
      version: 1,
      stackFile: '/nowhere/temporal-dev.yml',
      writtenAt: new Date().toISOString(),
      config: {
        temporal: { address: `127.0.0.1:${temporal}`, namespace: 'ota' },
        store: { kind: 's3', bucket: 'ota-artifacts', endpoint: `http://127.0.0.1:${s3}`, forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: 'otadev', secretAccessKey: 'otadevsecret' } },
        fleet: { databaseUrl: `postgres://ota@127.0.0.1:${db}/fleet` },
      },
      operatorApi: { url: `http://127.0.0.1:${api}`, token: 'ota_dead_token' },
    });
    writeFileSync(join(state, 'fw.img'), 'firmware');
    ota = otaIn(state);
    hint = `this command follows the dev stack recorded in ${stackStatePath(state)}: \`ota dev status\` shows what runs, \`ota dev up --detach\` starts it again, \`ota dev down\` stops following it`;
  }, 200_000);

  const cases: Array<[string, string[], RegExp]> = [
    ['rollout status (operator API)', ['rollout', 'status', 'r-1'], /^ota: cannot reach the operator API at http:\/\/127\.0\.0\.1:\d+: connect ECONNREFUSED/],
    ['rollout start (operator API)', ['rollout', 'start', '--release', '1.0.0', '--hardware', 'gw-demo', '--policy', 'POLICY'], /^ota: cannot reach the operator API at /],
    ['rollout list (Temporal)', ['rollout', 'list'], /^ota: cannot reach Temporal at 127\.0\.0\.1:\d+ /],
    ['fleet devices (fleet database)', ['fleet', 'devices'], /^ota: cannot connect to the fleet database at postgres:\/\/ota@127\.0\.0\.1:\d+\/fleet: /],
    ['release list (artifact store)', ['release', 'list', '--hardware', 'gw-demo'], /^ota: artifact store at http:\/\/127\.0\.0\.1:\d+ unavailable /],
    ['release publish (artifact store)', ['release', 'publish', '--image', 'fw.img', '--version', '1.0.0', '--hardware', 'gw-demo'], /^ota: artifact store at http:\/\/127\.0\.0\.1:\d+ unavailable /],
  ];

  for (const [label, args, expected] of cases) {
    it(`${label}: one line with what to do, exit 1`, async (ctx) => {
      if (skipReason) return ctx.skip();
      const argv = args.map((a) => (a === 'POLICY' ? join(projectRoot, 'demo', 'demo-policy.yml') : a));
      const run = await ota(argv);
      expect(run.code).toBe(1);
      const lines = run.stderr.split('\n').filter((l) => l && !l.startsWith('upload '));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(expected);
      expect(lines[0]!.endsWith(`; ${hint}`)).toBe(true);
      expect(run.stderr).not.toMatch(STACK_FRAME);
    }, 120_000);
  }

  it('--verbose adds the full error under the same line', async (ctx) => {
    if (skipReason) return ctx.skip();
    const plain = await ota(['fleet', 'devices']);
    const verbose = await ota(['fleet', 'devices', '--verbose']);
    expect(verbose.code).toBe(1);
    expect(verbose.stderr.split('\n')[0]).toBe(plain.stderr.trim());
    expect(verbose.stderr).toMatch(STACK_FRAME);
  }, 120_000);

  it('an explicit flag wins over the state: no stack hint for what the stack did not supply', async (ctx) => {
    if (skipReason) return ctx.skip();
    const dead = await freePort();
    const run = await ota(['rollout', 'list', '--set', `temporal.address=127.0.0.1:${dead}`]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`cannot reach Temporal at 127.0.0.1:${dead}`);
    expect(run.stderr).not.toContain('follows the dev stack');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  }, 120_000);
});
