// The README's newcomer walk-through, run as written: the commands between <!-- walkthrough:start -->
// and <!-- walkthrough:end --> are read from README.md (so README and test cannot drift) and run one by
// one in a fresh HOME and working directory with a fresh state directory, as a person would type them
// after `node tools/setup.mjs`. Each step's output is checked; between the steps, the console and the
// failure lines (one line, the full error only with --verbose) are checked against the running stack.
// Ten simulated devices (`ota dev devices`) start on 1.0.0; the rollout moves every one to 1.1.0, and
// the console step's token opens the rollout's page with its rings' device counts.
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackStatePath, type StackState } from '../../config/stack-state.js';
import type { DevFleetStatus } from '../../devstack/dev-fleet-status.js';
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

/** What `ota fleet devices --json` says of a device. */
interface FleetDevice {
  id: string;
  hardwareId: string;
  channel: string;
  keyAlgorithm: string;
  revokedAt: string | null;
  currentVersion: string | null;
  releaseVersion: string | null;
  lastState: string | null;
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
    let devicesPid: number | undefined;
    let deviceIds: string[] = [];
    const published: string[] = [];

    for (const line of commands.slice(1)) {
      const words = line.split(/\s+/);
      const step = words.slice(1, 3).join(' ');
      if (step === 'dev down') await beforeDown(state!);
      const run = await sh(line);
      // Every step succeeds, and nothing prints a stack trace.
      expect({ line, code: run.code, stderr: run.code ? run.stderr : '', stdout: run.code ? run.stdout : '' }).toEqual({ line, code: 0, stderr: '', stdout: '' });
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
          if (version === '1.0.0') await devicesRefuseWhatCannotWork();
          // Into the stack's bucket (versitygw's posix backend is a folder), not a local-directory store.
          expect(existsSync(join(stateDir, 's3', 'ota-artifacts', 'releases', 'gw-demo', version, 'manifest.json'))).toBe(true);
          expect(existsSync(join(stateDir, 'artifacts'))).toBe(false);
          break;
        }
        case 'dev devices': {
          // Admitted per device (preauthorized keys, no shared token), enrolled, running in the background on 1.0.0.
          expect(run.stdout).toMatch(/^10 simulated gw-demo devices enrolled on 1\.0\.0 \((dev-[0-9a-f]{4})-00000 \.\. \1-00009\), each preauthorized with its own key/);
          const devices = (await devStatus()).devices!;
          expect(devices).toMatchObject({ state: 'running', count: 10, hardwareId: 'gw-demo', gatewayUrl: `http://127.0.0.1:${env.OTA_GATEWAY_PORT}`, versions: { '1.0.0': 10 } });
          devicesPid = devices.pid;
          expect(isAlive(devicesPid)).toBe(true);
          // One fleet per stack: a second is refused in one line, and the first runs on.
          const again = await sh('ota dev devices --count 2 --version 1.0.0 --detach');
          expect(again.code).toBe(1);
          expect(again.stderr).toBe(`ota: simulated devices already run from this stack (pid ${devicesPid}); \`ota dev down\` stops them with the stack\n`);
          const prefix = devices.ids.first.replace(/-00000$/, '');
          deviceIds = Array.from({ length: 10 }, (_, i) => `${prefix}-${String(i).padStart(5, '0')}`);
          // The gateway's side: the fleet database knows each device, enrolled with its own key and checking in on 1.0.0.
          const known = await waitForFleet(deviceIds, (d) => d.currentVersion === '1.0.0');
          expect(known.map((d) => [d.hardwareId, d.channel, d.keyAlgorithm, d.revokedAt])).toEqual(deviceIds.map(() => ['gw-demo', 'stable', 'ed25519', null]));
          break;
        }
        case 'release list':
          for (const version of published) expect(run.stdout).toMatch(new RegExp(`^${version.replace(/\./g, '\\.')}\\s+stable`, 'm'));
          break;
        case 'rollout start':
          expect(run.stdout).toContain('started walkthrough: 1.1.0 to gw-demo');
          await failuresAreOneLine();
          break;
        case 'rollout status': {
          // --watch, read through the stack's operator API, returns when the rollout ends: its last
          // status is the completed rollout, every ring passed with its devices' counts.
          const last = run.stdout.slice(run.stdout.lastIndexOf('walkthrough: 1.1.0 to gw-demo --'));
          expect(last).toMatch(/^walkthrough: 1\.1\.0 to gw-demo -- completed\n/);
          expect(last).toMatch(/^exposure: 10 of 10 devices/m);
          expect(last).toMatch(/^\s+canary\s+passed\s+reported 5\/5, committed 5, failed 0/m);
          expect(last).toMatch(/^\s+fleet\s+passed\s+reported 5\/5, committed 5, failed 0/m);
          expect(last).toMatch(/finish: all 3 rings passed/);
          // A ring passes once decided; a straggler gets 1.1.0 at its next check-in. Then every device runs
          // it, as the gateway's records and the devices themselves say.
          const moved = await waitForFleet(deviceIds, (d) => d.currentVersion === '1.1.0' && d.lastState === 'committed');
          expect(moved.map((d) => [d.currentVersion, d.releaseVersion, d.lastState])).toEqual(deviceIds.map(() => ['1.1.0', '1.1.0', 'committed']));
          break;
        }
        case 'dev status': {
          expect(run.stdout).toContain(`ota commands follow this stack (${stackStatePath(stateDir)})`);
          expect(run.stdout).toMatch(/^devices: 10 simulated gw-demo devices \(dev-[0-9a-f]{4}-00000 \.\. dev-[0-9a-f]{4}-00009\) at \S+: 10 on 1\.1\.0; checking in every 1s/m);
          expect(run.stdout).toContain(`console: http://127.0.0.1:${env.OTA_API_PORT}/console/ (ota dev console prints a token to sign in with)`);
          const status = await devStatus();
          expect(status.services.map((s) => [s.name, s.state, s.answering])).toEqual(['temporal', 'artifacts', 'fleet-db', 'worker', 'gateway', 'api'].map((n) => [n, 'running', true]));
          expect(status.devices).toMatchObject({ state: 'running', pid: devicesPid, versions: { '1.1.0': 10 } });
          pids = status.services.map((s) => s.pid!);
          break;
        }
        case 'dev console':
          await consoleShowsTheRollout(run.stdout);
          break;
        case 'dev down':
          // The tokens go with the stack (the database's data stays on disk); the devices stop first.
          expect(run.stderr).toContain(`revoked the stack's admin token ${state!.operatorApi!.tokenId}`);
          expect(run.stderr).toContain('revoked 1 console token of ota dev console');
          expect(run.stdout.split('\n')[0]).toBe(`devices: stopped (pid ${devicesPid})`);
          expect(existsSync(stackStatePath(stateDir))).toBe(false);
          for (const pid of [...pids, devicesPid!]) expect(isAlive(pid)).toBe(false);
          break;
      }
    }
    expect(published).toEqual(['1.0.0', '1.1.0']);
    expect(pids).toHaveLength(6);
    expect(devicesPid).toBeDefined();

    // After `ota dev down` commands no longer follow the stack: back to the embedded default.
    const shown = JSON.parse((await sh('ota config show --json')).stdout) as { sources: Record<string, string> };
    expect(shown.sources['temporal.address']).toBe('default');
  }, 600_000);

  async function devStatus(): Promise<{ services: Array<{ name: string; state: string; pid?: number; answering: boolean }>; devices?: DevFleetStatus }> {
    const run = await sh('ota dev status --json');
    expect(run.code).toBe(0);
    return JSON.parse(run.stdout) as Awaited<ReturnType<typeof devStatus>>;
  }

  /** The fleet database's records of these devices (`ota fleet devices`), once every one satisfies `done` (generous: a loaded machine). */
  async function waitForFleet(ids: string[], done: (d: FleetDevice) => boolean): Promise<FleetDevice[]> {
    let mine: FleetDevice[] = [];
    for (let i = 0; i < 120; i++) {
      const run = await sh('ota fleet devices --json');
      expect(run.code).toBe(0);
      const all = JSON.parse(run.stdout) as FleetDevice[];
      mine = ids.map((id) => all.find((d) => d.id === id)).filter((d): d is FleetDevice => d !== undefined);
      if (mine.length === ids.length && mine.every(done)) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(mine.map((d) => d.id)).toEqual(ids);
    return mine;
  }

  /** The console step: sign in with the token it printed, and the rollout's page shows its rings with device counts. */
  async function consoleShowsTheRollout(stdout: string): Promise<void> {
    const api = `http://127.0.0.1:${env.OTA_API_PORT}`;
    expect(stdout).toContain(`console  ${api}/console/`);
    expect(stdout).toContain(`sign in at ${api}/console/sign-in with this viewer API token`);
    const token = stdout.trim().split('\n').at(-1)!;
    expect(token).toMatch(/^ota_/);
    const signIn = await fetch(`${api}/console/sign-in`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }).toString() });
    await signIn.body?.cancel();
    expect(signIn.status).toBe(303);
    const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0]!;
    expect(cookie).toBe(`ota_console=${token}`);
    const page = await fetch(`${api}/console/rollouts/walkthrough`, { headers: { cookie } });
    expect(page.status).toBe(200);
    const body = await page.text();
    const rings = [...body.matchAll(/<tr data-ring="([^"]+)">[\s\S]*?<span class="state [^"]*">([^<]*)<\/span>[\s\S]*?<td data-field="assigned">(\d+)<\/td><td data-field="reported">(\d+)<\/td><td data-field="committed">(\d+)<\/td><td data-field="failed">(\d+)<\/td>/g)].map((m) => m.slice(1));
    expect(rings).toEqual([
      ['canary', 'passed', '5', '5', '5', '0'],
      ['quarter', 'passed', '0', '0', '0', '0'],
      ['fleet', 'passed', '5', '5', '5', '0'],
    ]);
  }

  /** Devices on a release that is not published: one line, nothing left running, nobody preauthorized. */
  async function devicesRefuseWhatCannotWork(): Promise<void> {
    const run = await sh('ota dev devices --count 2 --version 9.9.9 --hardware gw-demo --detach');
    expect(run.code).toBe(1);
    // The progress line, then the failure in one line.
    expect(run.stderr.split('\n')).toEqual([
      expect.stringMatching(/^devices: starting 2 in the background \(pid \d+, log \S+devices\.log\); waiting until each is enrolled$/),
      expect.stringMatching(/^ota: the simulated devices failed: gw-demo 9\.9\.9 is not published in the stack's store; publish it first \(ota release publish --image F --version 9\.9\.9 --hardware gw-demo\); see \S+devices\.log$/),
      '',
    ]);
    expect((await devStatus()).devices).toMatchObject({ state: 'failed' });
    const admissions = JSON.parse((await sh('ota fleet admissions --json')).stdout) as { preauthorized: unknown[] };
    expect(admissions.preauthorized).toEqual([]);
  }

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
