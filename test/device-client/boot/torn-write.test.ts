// A writer killed with SIGKILL at a random moment must leave the old or the new state, never garbage.
// (SIGKILL tests interruption between and inside our syscalls; it does not drop the page cache
// the way a power cut does. The fsync/rename order in platform/atomic-write.ts covers that case.)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initialBootState, markActive, sameBootState, type BootState } from '../../../device-client/boot/boot-state.js';
import { bootStateToVariables } from '../../../device-client/boot/boot-variables.js';
import { StateFileBackend } from '../../../device-client/boot/state-file-backend.js';
import { UbootEnvBackend } from '../../../device-client/boot/uboot-env-backend.js';
import { provisionUbootEnv } from '../../../device-client/boot/uboot-env-image.js';

const ROUNDS = 12;

/** The states the writers cycle through: all distinct, all valid. */
function cycleState(i: number): BootState {
  return { order: i % 2 ? ['B', 'A'] : ['A', 'B'], tries: { A: i % 10, B: Math.floor(i / 10) % 10 }, good: { A: true, B: i % 3 === 0 } };
}
const CYCLE = Array.from({ length: 100 }, (_, i) => cycleState(i));
const isCycleState = (s: BootState) => CYCLE.some((c) => sameBootState(c, s));

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ota-boot-torn-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/**
 * Node 20 cannot run .ts: transpile the real backend modules so the child runs exactly our code. They keep
 * their folders (relative imports cross device-client/ and platform/), under `dir`.
 */
async function transpileBootModules(dir: string): Promise<void> {
  const modules = ['device-client/boot/boot-state', 'platform/atomic-write', 'device-client/boot/state-file-backend', 'device-client/boot/backend'];
  for (const name of modules) {
    const source = await readFile(new URL(`../../../${name}.ts`, import.meta.url), 'utf8');
    const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 } });
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, `${name}.js`), outputText);
  }
}

function waitForLine(child: ChildProcess, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stdout!.on('data', (chunk) => {
      seen += chunk;
      if (seen.includes(text)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`writer exited early (${code}): ${seen}`)));
  });
}

function killAndWait(child: ChildProcess, group: boolean): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    if (group) process.kill(-child.pid!, 'SIGKILL');
    else child.kill('SIGKILL');
  });
}

const randomDelay = () => new Promise((r) => setTimeout(r, 5 + Math.random() * 40));

describe('torn writes: state-file backend', () => {
  it(`SIGKILL of a looping writer leaves a whole state (${ROUNDS} rounds)`, async () => {
    const dir = join(root, 'state-file');
    await mkdir(dir);
    const modulesDir = join(root, 'state-file-modules');
    await transpileBootModules(modulesDir);
    const childScript = join(modulesDir, 'writer.mjs');
    await writeFile(
      childScript,
      `import { StateFileBackend } from './device-client/boot/state-file-backend.js';
const cycle = ${JSON.stringify(CYCLE)};
const backend = new StateFileBackend(process.argv[2]);
for (let i = 0; ; i++) {
  await backend.write(cycle[i % cycle.length]);
  if (i === 20) process.stdout.write('writing\\n');
}
`,
    );
    const statePath = join(dir, 'boot-state.json');
    const backend = new StateFileBackend(statePath);
    await backend.write(initialBootState());
    const seen = new Set<string>();
    for (let round = 0; round < ROUNDS; round++) {
      const child = spawn(process.execPath, [childScript, statePath], { stdio: ['ignore', 'pipe', 'inherit'] });
      await waitForLine(child, 'writing');
      await randomDelay();
      await killAndWait(child, false);
      const state = await backend.read(); // throws on garbage
      expect(isCycleState(state), JSON.stringify(state)).toBe(true);
      seen.add(JSON.stringify(state));
    }
    // The kills landed at different points of the cycle, so this was not one lucky moment.
    expect(seen.size).toBeGreaterThan(1);
    // Only temp files may be left behind by a kill, never a second state file.
    for (const name of await readdir(dir)) expect(name).toMatch(/^(boot-state\.json|\.boot-state\.json\..*\.tmp|.*\.m?js)$/);
  });
});

const haveFwSetenv = spawnSync('sh', ['-c', 'command -v fw_setenv && command -v mkenvimage']).status === 0;
if (!haveFwSetenv) console.warn('SKIPPING U-Boot torn-write test: fw_setenv/mkenvimage not installed (apt-get install -y libubootenv-tool u-boot-tools)');

describe.skipIf(!haveFwSetenv)('torn writes: U-Boot redundant environment', () => {
  it(`SIGKILL of a looping fw_setenv leaves one of the written states (${ROUNDS} rounds)`, async () => {
    const dir = join(root, 'uboot');
    await mkdir(dir);
    const { configPath } = await provisionUbootEnv({ dir, redundant: true });
    const states = [initialBootState(), markActive(initialBootState(), 'B', 3), markActive(initialBootState(), 'B', 2)];
    const scripts: string[] = [];
    for (const [i, state] of states.entries()) {
      const script = join(dir, `state-${i}.script`);
      await writeFile(script, Object.entries(bootStateToVariables(state)).map(([k, v]) => `${k}=${v}\n`).join(''));
      scripts.push(script);
    }
    const loop = `n=0; while :; do for s in ${scripts.join(' ')}; do fw_setenv -c ${configPath} -s $s || exit 1; done; n=$((n+1)); [ $n = 3 ] && echo writing; done`;
    const backend = new UbootEnvBackend(configPath);
    for (let round = 0; round < ROUNDS; round++) {
      // Own process group, so one kill takes the shell and the fw_setenv it is running.
      const child = spawn('sh', ['-c', loop], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
      await waitForLine(child, 'writing');
      await randomDelay();
      await killAndWait(child, true);
      const state = await backend.read();
      expect(states.some((s) => sameBootState(s, state)), JSON.stringify(state)).toBe(true);
    }
  });
});
