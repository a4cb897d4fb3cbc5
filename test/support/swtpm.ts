// A software TPM 2.0 per test: Debian's swtpm with its state in a temp folder, on two free loopback
// ports (commands and control), manufactured by swtpm_setup first (an unmanufactured state drops
// into failure mode). Tests that need it call `swtpmOrSkip` and say loudly when it is missing.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { findTool } from '../../platform/tools.js';
import { freePort } from '../../platform/free-port.js';
import type { TpmConnection } from '../../device-client/tpm/tpm-tool.js';

export interface SoftwareTpm extends TpmConnection {
  stateDir: string;
  port: number;
  /** Power-cycle: the TPM restarts from its saved state (PCRs reset, resetCount goes up, NV and keys kept). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const TOOLS = ['swtpm', 'swtpm_setup', 'tpm2_quote', 'tpm2_createak', 'tpm2_nvincrement'];

/** The missing tools, or none: `describe.skipIf(missingTpmTools().length > 0)`. */
export function missingTpmTools(): string[] {
  return TOOLS.filter((tool) => !findTool(tool));
}

/** true when the tests can run; otherwise prints why they skip (console, so CI logs show it). */
export function swtpmAvailable(suite: string): boolean {
  const missing = missingTpmTools();
  if (missing.length === 0) return true;
  console.warn(`SKIPPING ${suite}: no software TPM (${missing.join(', ')} missing; apt-get install -y swtpm swtpm-tools tpm2-tools)`);
  return false;
}

/** `setupArgs`: more swtpm_setup arguments, e.g. `--config F --create-ek-cert` (EK certificates from a local CA). */
export async function startSoftwareTpm(dir: string, options: { setupArgs?: string[] } = {}): Promise<SoftwareTpm> {
  // Absolute: swtpm --daemon changes to / before it opens its state.
  const stateDir = resolve(dir, 'swtpm');
  await mkdir(stateDir, { recursive: true });
  execFileSync('swtpm_setup', ['--tpm2', '--tpmstate', stateDir, '--overwrite', '--pcr-banks', 'sha256', ...(options.setupArgs ?? [])], { stdio: 'pipe', timeout: 60_000 });
  let port = 0;
  let pid = 0;
  const start = async () => {
    // Two consecutive free ports: swtpm's TCTI finds the control port at port + 1.
    for (let attempt = 0; attempt < 20; attempt++) {
      port = port || (await freePort());
      const run = spawnSync(
        'swtpm',
        ['socket', '--tpm2', '--tpmstate', `dir=${stateDir}`, '--server', `type=tcp,port=${port},bindaddr=127.0.0.1`, '--ctrl', `type=tcp,port=${port + 1},bindaddr=127.0.0.1`, '--flags', 'not-need-init,startup-clear', '--daemon', '--pid', `file=${join(stateDir, 'pid')}`],
        { stdio: 'pipe', timeout: 20_000 },
      );
      if (run.status === 0) {
        pid = Number((await readFile(join(stateDir, 'pid'), 'utf8')).trim());
        return;
      }
      port = 0;
    }
    throw new Error('swtpm did not start on any free port pair');
  };
  const stop = async () => {
    if (!pid) return;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      pid = 0;
      return;
    }
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(pid, 0);
      } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    pid = 0;
  };
  await start();
  const tpm: SoftwareTpm = {
    stateDir,
    get port() {
      return port;
    },
    get tcti() {
      return `swtpm:host=127.0.0.1,port=${port}`;
    },
    async restart() {
      await stop();
      await start();
    },
    stop,
  };
  return tpm;
}

/** A software TPM in a temp folder for the tests of the current describe block; fields are filled by its beforeAll. */
export function useSoftwareTpm(prefix: string): { dir: string; tpm: SoftwareTpm } {
  const env = {} as { dir: string; tpm: SoftwareTpm };
  beforeAll(async () => {
    env.dir = await mkdtemp(join(tmpdir(), prefix));
    env.tpm = await startSoftwareTpm(env.dir);
  });
  afterAll(async () => {
    await env.tpm?.stop();
    if (env.dir) await rm(env.dir, { recursive: true, force: true });
  });
  return env;
}
