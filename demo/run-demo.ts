// `ota demo`: the main job on the embedded default, end to end, with the same commands a
// release engineer would type. It starts the stack's Temporal service from temporal-dev.yml,
// publishes two releases of a sample image (the second with a delta from the first),
// verifies them, shows that a one-byte change is caught, and stops everything it started.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { downStack, upStack } from '../devstack/stack.js';
import { projectRoot } from '../platform/paths.js';
import { buildSampleImage } from './sample-image.js';

export interface DemoStep {
  title: string;
  command?: string;
  ok: boolean;
  detail?: string;
}

export interface DemoOptions {
  stateDir: string;
  say: (line: string) => void;
}

const HARDWARE = 'gw-demo';

export async function runDemo(opts: DemoOptions): Promise<{ ok: boolean; steps: DemoStep[]; temporalUi: string }> {
  const { stateDir, say } = opts;
  rmSync(stateDir, { recursive: true, force: true });
  mkdirSync(join(stateDir, 'images'), { recursive: true });
  const [grpcPort, uiPort] = [await freePort(), await freePort()];
  const stackEnv = { OTA_TEMPORAL_PORT: String(grpcPort), OTA_TEMPORAL_UI_PORT: String(uiPort) };
  const stackFile = join(projectRoot, 'temporal-dev.yml');
  const steps: DemoStep[] = [];
  const temporalUi = `http://127.0.0.1:${uiPort}/namespaces/ota/workflows`;
  const env = { ...process.env, OTA_STATE_DIR: stateDir, OTA_TEMPORAL_ADDRESS: `127.0.0.1:${grpcPort}` };

  const ota = async (title: string, args: string[], expectFailure = false): Promise<string> => {
    const shown = `ota ${args.join(' ')}`;
    say(`\n== ${title}\n$ ${shown}`);
    const { code, stdout } = await runOta(args, env, say);
    const ok = expectFailure ? code !== 0 : code === 0;
    steps.push({ title, command: shown, ok, detail: expectFailure ? `exit ${code} (rejected, as it must be)` : `exit ${code}` });
    if (!ok) throw new Error(`${title} failed: \`${shown}\` exited ${code}`);
    return stdout;
  };

  say(`== starting the local stack (temporal-dev.yml: temporal) in ${stateDir}`);
  const up = await upStack({ file: stackFile, stateDir, env: stackEnv, services: ['temporal'], detach: true, progress: say });
  try {
    if (!up.ok) throw new Error(`stack did not start: ${up.outcomes.map((o) => `${o.name}: ${o.detail ?? o.result}`).join('; ')}`);
    steps.push({ title: 'start Temporal dev server', ok: true, detail: temporalUi });
    say(`Temporal UI: ${temporalUi}`);

    await ota('prove the wiring: client -> Temporal -> worker -> activity', ['health', '--worker', 'inline']);

    const images = join(stateDir, 'images');
    for (const version of ['1.0.0', '1.0.1']) {
      buildSampleImage({ version, out: join(images, `firmware-${version}.tar`) });
    }
    say(`\nbuilt sample images (tar root filesystems with real ELF binaries) in ${images}`);

    await ota('publish release 1.0.0', ['release', 'publish', '--image', join(images, 'firmware-1.0.0.tar'), '--version', '1.0.0', '--hardware', HARDWARE, '--security-version', '1']);
    await ota('publish release 1.0.1 (delta from 1.0.0)', ['release', 'publish', '--image', join(images, 'firmware-1.0.1.tar'), '--version', '1.0.1', '--hardware', HARDWARE]);
    await ota('publish 1.0.1 again: idempotent', ['release', 'publish', '--image', join(images, 'firmware-1.0.1.tar'), '--version', '1.0.1', '--hardware', HARDWARE]);
    await ota('a different image for 1.0.1 is refused', ['release', 'publish', '--image', join(images, 'firmware-1.0.0.tar'), '--version', '1.0.1', '--hardware', HARDWARE], true);
    await ota('list releases', ['release', 'list', '--hardware', HARDWARE]);
    const shown = JSON.parse(await ota('show release 1.0.1', ['release', 'show', '1.0.1', '--hardware', HARDWARE, '--json'])) as {
      deltas: Array<{ location: string; length: number }>;
      sbom: { location: string };
      image: { length: number };
    };
    if (shown.deltas.length !== 1) throw new Error('release 1.0.1 has no delta from 1.0.0');
    steps.push({ title: 'release 1.0.1 carries a delta from 1.0.0', ok: true, detail: `${shown.deltas[0]!.length} bytes instead of ${shown.image.length}` });

    const manifest = `store:releases/${HARDWARE}/1.0.1/manifest.json`;
    await ota('verify release 1.0.1 offline against the pinned trust root', ['verify', '--manifest', manifest]);

    const storeDir = join(stateDir, 'artifacts');
    await withOneByteChanged(join(storeDir, `releases/${HARDWARE}/1.0.1/manifest.json`), () =>
      ota('a one-byte change to the manifest is rejected', ['verify', '--manifest', manifest], true),
    );
    await withOneByteChanged(join(storeDir, shown.deltas[0]!.location), () => ota('a one-byte change to the delta is rejected', ['verify', '--manifest', manifest], true));
    await withOneByteChanged(join(storeDir, shown.sbom.location), () => ota('a one-byte change to the SBOM is rejected', ['verify', '--manifest', manifest], true));
  } finally {
    say('\n== stopping the stack');
    const stopped = await downStack({ file: stackFile, stateDir, env: stackEnv, progress: say });
    steps.push({ title: 'stop the stack', ok: stopped.every((s) => s.result !== 'killed'), detail: stopped.map((s) => `${s.name}: ${s.result}`).join(', ') });
  }
  return { ok: steps.every((s) => s.ok), steps, temporalUi };
}

/** Flips one byte (the middle one) of a file for the duration of `check`, then restores it. */
async function withOneByteChanged<T>(path: string, check: () => Promise<T>): Promise<T> {
  const original = readFileSync(path);
  const changed = Buffer.from(original);
  const at = Math.floor(changed.length / 2);
  changed[at] = changed[at]! ^ 0x01;
  writeFileSync(path, changed);
  try {
    return await check();
  } finally {
    writeFileSync(path, original);
  }
}

function runOta(args: string[], env: NodeJS.ProcessEnv, say: (line: string) => void): Promise<{ code: number; stdout: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(projectRoot, 'bin', 'ota.js'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    const relay = (stream: NodeJS.ReadableStream) => {
      let pending = '';
      stream.on('data', (chunk: Buffer) => {
        pending += chunk.toString('utf8');
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) say(`  ${line}`);
      });
      stream.on('end', () => pending && say(`  ${pending}`));
    };
    relay(child.stderr);
    child.on('error', reject);
    child.on('close', (code) => {
      for (const line of stdout.trimEnd().split('\n')) if (line) say(`  ${line}`);
      resolvePromise({ code: code ?? 1, stdout });
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePromise(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
