// The README's newcomer walk-through, run as written: the commands between <!-- walkthrough:start -->
// and <!-- walkthrough:end --> are read from README.md (so README and test cannot drift) and run one by
// one in a fresh HOME and working directory with a fresh state directory, as a person would type them
// after `node tools/setup.mjs`. Each step's output is checked; between the steps, the console and the
// failure lines (one line, the full error only with --verbose) are checked against the running stack.
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackStatePath, type StackState } from '../../config/stack-state.js';
import { findPostgresBinaries } from '../../devstack/postgres.js';
import { isAlive } from '../../devstack/processes.js';
import { downStack } from '../../devstack/stack.js';
import { freePort } from '../../platform/free-port.js';
import { projectRoot } from '../../platform/paths.js';
import { findTool } from '../../platform/tools.js';
import { ensureDist, OTA_BIN } from '../support/dist.js';

const stackFile = join(projectRoot, 'temporal-dev.yml');
const missing = [!findPostgresBinaries() && 'PostgreSQL binaries', !findTool('versitygw') && 'versitygw', !findTool('temporal') && 'temporal'].filter(Boolean);
if (missing.length) console.warn(`\n*** SKIPPING the README walk-through test: ${missing.join(', ')} not installed (.ci/run installs them) ***\n`);

/** The fenced commands between the README's walk-through markers, comments and blank lines left out. */
export function walkthroughCommands(readme: string): string[] {
  const block = /<!-- walkthrough:start -->\s*```sh\n([\s\S]*?)```\s*<!-- walkthrough:end -->/.exec(readme);
  if (!block) throw new Error('README.md has no ```sh block between <!-- walkthrough:start --> and <!-- walkthrough:end -->');
  return block[1]!
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line && !line.startsWith('#'));
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Stack frames in a failure: what a person must never see without --verbose. */
const STACK_FRAME = /^\s+at .+[(:]/m;


describe.skipIf(missing.length > 0)('README walk-through on a clean state', () => {
  const home = mkdtempSync(join(tmpdir(), 'ota-newcomer-'));
  // PostgreSQL runs under its own account: it must be able to enter the state directory.
  chmodSync(home, 0o755);
  const stateDir = join(home, '.ota');
  let env: NodeJS.ProcessEnv = {};
  let skipReason: string | undefined;
  const commands = walkthroughCommands(readFileSync(join(projectRoot, 'README.md'), 'utf8'));

  const sh = (line: string, timeout = 240_000): Promise<Run> =>
    new Promise((resolve) => {
      // `ota` as the README's alias defines it, for this checkout.
      execFile('bash', ['-c', `ota() { "${process.execPath}" "${OTA_BIN}" "$@"; }\n${line}`], { cwd: home, env, timeout, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });

  beforeAll(async () => {
    skipReason = await ensureDist();
    if (skipReason) console.warn(`\n*** SKIPPING the README walk-through test: ${skipReason} ***\n`);
    const ports = ['OTA_TEMPORAL_PORT', 'OTA_TEMPORAL_UI_PORT', 'OTA_S3_PORT', 'OTA_FLEET_DB_PORT', 'OTA_GATEWAY_PORT', 'OTA_API_PORT'];
    // Nothing of this machine's configuration leaks in: no OTA_* or AWS_* variable but the ports and the state.
    const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('OTA_') && !name.startsWith('AWS_')));
    env = { ...clean, HOME: home, OTA_STATE_DIR: stateDir };
    for (const name of ports) env[name] = String(await freePort());
    // The clone's files the walk-through names (the policy); the rest of the clone is this checkout.
    mkdirSync(join(home, 'demo'));
    copyFileSync(join(projectRoot, 'demo', 'demo-policy.yml'), join(home, 'demo', 'demo-policy.yml'));
  }, 200_000);

  afterAll(async () => {
    // Whatever failed: stop every process `ota dev up` recorded (killing what does not stop), then clean up.
    await downStack({ file: stackFile, stateDir }).catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  }, 90_000);

  it('runs every README command in order, and the stack it starts answers and stops', async (ctx) => {
    if (skipReason) return ctx.skip();
    expect(commands[0]).toMatch(/^alias ota="node \$PWD\/bin\/ota\.js"$/);
    expect(commands.slice(1).every((line) => line.startsWith('ota '))).toBe(true);
    let state: StackState | undefined;
    let pids: number[] = [];
    const published: string[] = [];

    for (const line of commands.slice(1)) {
      const words = line.split(/\s+/);
      const step = words.slice(1, 3).join(' ');
      if (step === 'dev down') await beforeDown(state!);
      const run = await sh(line);
      // Every step succeeds, and nothing prints a stack trace.
      expect({ line, code: run.code, stderr: run.code ? run.stderr : '' }).toEqual({ line, code: 0, stderr: '' });
      expect(run.stderr).not.toMatch(STACK_FRAME);

      switch (step) {
        case 'dev up': {
          expect(run.stdout).toContain('ota commands now use this stack');
          const file = stackStatePath(stateDir);
          expect(statSync(file).mode & 0o777).toBe(0o600); // it holds the admin token
          state = JSON.parse(readFileSync(file, 'utf8')) as StackState;
          expect(state.config).toMatchObject({
            temporal: { address: `127.0.0.1:${env.OTA_TEMPORAL_PORT}` },
            store: { kind: 's3', bucket: 'ota-artifacts', endpoint: `http://127.0.0.1:${env.OTA_S3_PORT}` },
            fleet: { databaseUrl: `postgres://ota@127.0.0.1:${env.OTA_FLEET_DB_PORT}/fleet` },
          });
          expect(state.operatorApi?.url).toBe(`http://127.0.0.1:${env.OTA_API_PORT}`);
          expect(state.operatorApi?.token).toMatch(/^ota_/);
          expect(run.stdout).toContain(`Console       http://127.0.0.1:${env.OTA_API_PORT}/console/`);
          break;
        }
        case 'dev sample-image':
          expect(existsSync(join(home, words[words.indexOf('--out') + 1]!))).toBe(true);
          break;
        case 'release publish': {
          const version = words[words.indexOf('--version') + 1]!;
          expect(run.stdout).toMatch(new RegExp(`^published gw-demo ${version.replace(/\./g, '\\.')} \\(stable\\)`));
          published.push(version);
          // Into the stack's bucket (versitygw's posix backend is a folder), not a local-directory store.
          expect(existsSync(join(stateDir, 's3', 'ota-artifacts', 'releases', 'gw-demo', version, 'manifest.json'))).toBe(true);
          expect(existsSync(join(stateDir, 'artifacts'))).toBe(false);
          break;
        }
        case 'release list':
          for (const version of published) expect(run.stdout).toMatch(new RegExp(`^${version.replace(/\./g, '\\.')}\\s+stable`, 'm'));
          break;
        case 'rollout start':
          expect(run.stdout).toContain('started walkthrough: 1.1.0 to gw-demo');
          await failuresAreOneLine();
          break;
        case 'rollout status':
          // Read through the stack's operator API. With no devices enrolled each ring opens with 0
          // devices and passes at once: the rollout runs through or has completed, exposing nobody.
          expect(run.stdout).toMatch(/^walkthrough: 1\.1\.0 to gw-demo -- (running|completed)\n/);
          expect(run.stdout).toMatch(/^exposure: 0 of 0 devices/m);
          expect(run.stdout).toMatch(/^\s+canary\s+passed\s+reported 0\/0.*pass: no devices in this ring$/m);
          break;
        case 'dev status': {
          expect(run.stdout).toContain(`ota commands follow this stack (${stackStatePath(stateDir)})`);
          const status = JSON.parse((await sh('ota dev status --json')).stdout) as { services: Array<{ name: string; state: string; pid?: number; answering: boolean }> };
          expect(status.services.map((s) => [s.name, s.state, s.answering])).toEqual(['temporal', 'artifacts', 'fleet-db', 'worker', 'gateway', 'api'].map((n) => [n, 'running', true]));
          pids = status.services.map((s) => s.pid!);
          break;
        }
        case 'dev down':
          // The admin token goes with the stack (the database's data stays on disk).
          expect(run.stderr).toContain(`revoked the stack's admin token ${state!.operatorApi!.tokenId}`);
          expect(existsSync(stackStatePath(stateDir))).toBe(false);
          for (const pid of pids) expect(isAlive(pid)).toBe(false);
          break;
      }
    }
    expect(published).toEqual(['1.0.0', '1.1.0']);
    expect(pids).toHaveLength(6);

    // After `ota dev down` commands no longer follow the stack: back to the embedded default.
    const shown = JSON.parse((await sh('ota config show --json')).stdout) as { sources: Record<string, string> };
    expect(shown.sources['temporal.address']).toBe('default');
  }, 600_000);

  /** A refused workflow and an API refusal are one line each; --verbose adds the full error. */
  async function failuresAreOneLine(): Promise<void> {
    const other = await sh('ota release publish --image fw-1.0.0.tar --version 1.1.0 --hardware gw-demo');
    expect(other.code).toBe(1);
    expect(other.stderr.trim().split('\n').filter((l) => !l.startsWith('upload ') && !l.startsWith('release workflow ') && !l.startsWith('['))).toEqual([
      expect.stringMatching(/^ota: .*1\.1\.0 is already published with image sha256 [0-9a-f]{64}; this image is [0-9a-f]{64}\. Publish it under a new version\.$/),
    ]);
    expect(other.stderr).not.toMatch(STACK_FRAME);

    const unknown = await sh('ota rollout status no-such-rollout');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^ota: [A-Z_]+: .*no-such-rollout.*\n$/);
    const verbose = await sh('ota rollout status no-such-rollout --verbose');
    expect(verbose.code).toBe(1);
    expect(verbose.stderr.split('\n')[0]).toBe(unknown.stderr.trim());
    expect(verbose.stderr).toMatch(STACK_FRAME);

    // Explicit layers win over the stack: --set and OTA_* are sources of their own.
    const shown = JSON.parse((await sh(`OTA_STORE=${join(home, 'elsewhere')} ota config show --json --set temporal.address=127.0.0.1:1`)).stdout) as { config: { store: { kind: string } }; sources: Record<string, string> };
    expect(shown.config.store.kind).toBe('local');
    expect(shown.sources['store.kind']).toBe('env OTA_STORE');
    expect(shown.sources['temporal.address']).toBe('flag --set');
    expect(shown.sources['fleet.databaseUrl']).toBe(`dev stack ${stackStatePath(stateDir)}`);
  }

  /** The README's "open the console" step, before the stack goes down. */
  async function beforeDown(state: StackState): Promise<void> {
    const api = state.operatorApi!.url;
    const health = await fetch(`${api}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true });
    const page = await fetch(`${api}/console/`, { redirect: 'manual' });
    await page.body?.cancel();
    // The console: 200, or a redirect to its sign-in page.
    if (page.status !== 200) {
      expect([301, 302, 303, 307, 308]).toContain(page.status);
      expect(page.headers.get('location') ?? '').toMatch(/^\/console\/|sign-?in/i);
    }
  }
});
