// `ota demo`: the main job on the embedded default, end to end, with the same commands a
// release engineer would type. It starts the stack's Temporal service from temporal-dev.yml,
// publishes two releases of a sample image (the second with a delta from the first),
// verifies them, shows that a one-byte change is caught, and stops everything it started.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { downStack, upStack } from '../devstack/stack.js';
import { freePort } from '../platform/free-port.js';
import { projectRoot } from '../platform/paths.js';
import { tlsFetch } from '../platform/tls-fetch.js';
import { waitForHttp } from '../platform/wait-for-http.js';
import { readTrustRoot } from '../signing/trust-root.js';
import { parseManifest } from '../schemas/manifest.js';
import { preauthorizationsOf, ProtocolFleet, simIdentities } from '../sim/protocol-fleet.js';
import type { BehaviourModel } from '../sim/protocol-device.js';
import { buildSampleImage } from './sample-image.js';
import { TamperScene, writeSceneConfig } from './attestation-scene.js';

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
const FLEET_SIZE = 100;
/**
 * Failures that no release causes, seeded (sim/fleet-noise.ts): 2% of installs fail with a reported
 * install failure, 2% of heartbeat windows fail their health check, on every release alike.
 */
const DEVICE_NOISE = { seed: 2026, installFailureRate: 0.02, heartbeatFailureRate: 0.02 };
const LABELS_FOR = (i: number) => ({ region: ['eu-west', 'us-east', 'ap-south'][i % 3]!, store: `store-${100 + i}` });

export async function runDemo(opts: DemoOptions): Promise<{ ok: boolean; steps: DemoStep[]; temporalUi: string }> {
  const { stateDir, say } = opts;
  rmSync(stateDir, { recursive: true, force: true });
  mkdirSync(join(stateDir, 'images'), { recursive: true });
  const [grpcPort, uiPort] = [await freePort(), await freePort()];
  const stackEnv = { OTA_TEMPORAL_PORT: String(grpcPort), OTA_TEMPORAL_UI_PORT: String(uiPort) };
  const stackFile = join(projectRoot, 'temporal-dev.yml');
  const steps: DemoStep[] = [];
  const temporalUi = `http://127.0.0.1:${uiPort}/namespaces/ota/workflows`;
  // The layered config file holds the gateway's attestation and drift policy (demo/attestation-scene.ts).
  const env = { ...process.env, OTA_STATE_DIR: stateDir, OTA_TEMPORAL_ADDRESS: `127.0.0.1:${grpcPort}`, OTA_CONFIG: writeSceneConfig(stateDir) };
  let serve: ChildProcess | undefined;
  let sceneDevice: string | undefined;

  /** Runs `ota ARGS` as a person would; with --json the output is parsed, not echoed. */
  const ota = async (title: string, args: string[], expectFailure = false): Promise<string> => {
    const shown = `ota ${args.join(' ')}`;
    say(`\n== ${title}\n$ ${shown}`);
    const { code, stdout } = await runOta(args, env, say, args.includes('--json'));
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

    // The transport identity: a fleet CA, the gateway's server certificate from it, devices pin its root.
    await ota('create the fleet CA (offline root, issuing intermediate)', ['fleet', 'ca', 'init']);
    const tlsDir = join(stateDir, 'gateway-tls');
    await ota('issue the gateway server certificate', ['fleet', 'ca', 'server-cert', '--ip', '127.0.0.1', '--out', tlsDir]);
    const fleetCaPem = readFileSync(join(stateDir, 'ca', 'root.crt.pem'), 'utf8');
    // Admission per device: the operator preauthorizes each simulated device's key and selectors
    // before it first connects (and before `ota serve` holds the embedded database).
    const identities = simIdentities({ count: FLEET_SIZE, idPrefix: 'store', labelsFor: LABELS_FOR });
    const preauthFile = join(stateDir, 'preauthorized-devices.json');
    writeFileSync(preauthFile, JSON.stringify(preauthorizationsOf(identities, HARDWARE, 'stable')));
    await ota(`preauthorize ${FLEET_SIZE} devices (keys and labels set by the operator, not the devices)`, ['fleet', 'preauthorize', '--file', preauthFile]);

    // The gateway and the worker share the embedded fleet database (PGlite), so they run as one process.
    const gatewayPort = await freePort();
    const gatewayUrl = `https://127.0.0.1:${gatewayPort}`;
    const serveArgs = ['serve', '--port', String(gatewayPort), '--poll-after', '1', '--release-policy', 'rollouts', '--log-level', 'ERROR',
      '--tls-cert', join(tlsDir, 'server.chain.pem'), '--tls-key', join(tlsDir, 'server.key.pem'), '--mtls'];
    say(`\n== start the device gateway (TLS 1.3, client certificates required) and the worker\n$ ota ${serveArgs.join(' ')} &`);
    serve = spawn(process.execPath, [join(projectRoot, 'bin', 'ota.js'), ...serveArgs], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    relayLines(serve.stderr!, say);
    await waitForHttp(`${gatewayUrl}/healthz`, 30_000, tlsFetch(() => ({ ca: fleetCaPem })));
    steps.push({ title: 'start gateway + worker (ota serve, mutual TLS)', ok: true, detail: gatewayUrl });

    const images = join(stateDir, 'images');
    for (const version of ['1.0.0', '1.1.0']) {
      buildSampleImage({ version, out: join(images, `firmware-${version}.tar`) });
    }
    say(`\nbuilt sample images (tar root filesystems with real ELF binaries) in ${images}`);

    await ota('publish release 1.0.0', ['release', 'publish', '--worker', 'remote', '--image', join(images, 'firmware-1.0.0.tar'), '--version', '1.0.0', '--hardware', HARDWARE, '--security-version', '1']);
    await ota('publish release 1.1.0 (delta from 1.0.0)', ['release', 'publish', '--worker', 'remote', '--image', join(images, 'firmware-1.1.0.tar'), '--version', '1.1.0', '--hardware', HARDWARE]);
    await ota('publish 1.1.0 again: idempotent', ['release', 'publish', '--worker', 'remote', '--image', join(images, 'firmware-1.1.0.tar'), '--version', '1.1.0', '--hardware', HARDWARE]);
    await ota('a different image for 1.1.0 is refused', ['release', 'publish', '--worker', 'remote', '--image', join(images, 'firmware-1.0.0.tar'), '--version', '1.1.0', '--hardware', HARDWARE], true);
    await ota('list releases', ['release', 'list', '--hardware', HARDWARE]);
    const shown = JSON.parse(await ota('show release 1.1.0', ['release', 'show', '1.1.0', '--hardware', HARDWARE, '--json'])) as {
      deltas: Array<{ location: string; length: number; format: string }>;
      sbom: { location: string };
      image: { length: number };
    };
    if (!shown.deltas.some((d) => d.format === 'bsdiff')) throw new Error('release 1.1.0 has no delta from 1.0.0');
    steps.push({
      title: 'release 1.1.0 carries a delta from 1.0.0',
      ok: true,
      detail: `${shown.deltas.map((d) => `${d.format} ${d.length} bytes`).join(', ')} instead of ${shown.image.length}`,
    });

    const manifest = `store:releases/${HARDWARE}/1.1.0/manifest.json`;
    await ota('verify release 1.1.0 offline against the pinned trust root', ['verify', '--manifest', manifest]);

    const storeDir = join(stateDir, 'artifacts');
    await withOneByteChanged(join(storeDir, `releases/${HARDWARE}/1.1.0/manifest.json`), () =>
      ota('a one-byte change to the manifest is rejected', ['verify', '--manifest', manifest], true),
    );
    await withOneByteChanged(join(storeDir, shown.deltas[0]!.location), () => ota('a one-byte change to the delta is rejected', ['verify', '--manifest', manifest], true));
    await withOneByteChanged(join(storeDir, shown.sbom.location), () => ota('a one-byte change to the SBOM is rejected', ['verify', '--manifest', manifest], true));

    // A simulated fleet: 100 devices with their own keys, enrolled at the gateway, running 1.0.0, with device noise.
    say(`\n== enroll a simulated fleet of ${FLEET_SIZE} devices on 1.0.0`);
    const trustRoot = await readTrustRoot(join(stateDir, 'trust', 'trusted_root.json'));
    const v1 = parseManifest(readFileSync(join(storeDir, `releases/${HARDWARE}/1.0.0/manifest.json`)));
    const fleet = await ProtocolFleet.enroll({
      count: FLEET_SIZE,
      hardwareId: HARDWARE,
      channel: 'stable',
      gatewayUrl,
      identities,
      trustRoot,
      factory: { version: '1.0.0', imageSha256: v1.image.sha256, securityVersion: v1.securityVersion },
      concurrency: 8,
      noise: DEVICE_NOISE,
      fleetCaPem,
    });
    const certified = fleet.devices.filter((d) => d.certificate).length;
    steps.push({ title: `enroll ${FLEET_SIZE} simulated devices`, ok: true, detail: `${describeVersions(fleet.versions())}; ${certified} hold a 24 h client certificate from the fleet CA` });

    const crashes = new Set<string>();
    const behaviour: BehaviourModel = (_device, release) => (crashes.has(release.version) ? { result: 'fail', kind: 'boot', fallsBack: true } : { result: 'commit' });
    // Every device also heartbeats each tick; the fleet's noise fails 2% of windows and 2% of installs
    // whatever the release: the devices on the previous release are the control cohort.
    const failedInstalls = new Map<string, Set<string>>();
    const policyPath = join(stateDir, 'demo-policy.yml');
    writeFileSync(policyPath, readFileSync(join(projectRoot, 'demo', 'demo-policy.yml')));

    // One device that installs 1.1.0 after the canary gets its booted slot tampered with.
    const scene = new TamperScene('1.1.0', '1.0.0', say, 5);
    const rollout = async (version: string): Promise<string> => {
      const started = JSON.parse(await ota(`roll ${version} out through canary, quarter and fleet rings`, ['rollout', 'start', '--release', version, '--hardware', HARDWARE, '--policy', policyPath, '--json'])) as { rolloutId: string };
      const id = started.rolloutId;
      say(`$ ota rollout status ${id} --watch   (devices check in and heartbeat every 300 ms meanwhile, with device noise: 2% of installs and 2% of heartbeat windows fail for unrelated reasons)`);
      const failed = new Set<string>();
      failedInstalls.set(version, failed);
      const watch = spawnOta(['rollout', 'status', id, '--watch', '--interval', '1'], env, say);
      let watching = true;
      void watch.finally(() => (watching = false));
      /** One check-in and heartbeat of every device; whether any device moved. */
      const tick = async (): Promise<boolean> => {
        const outcomes = await fleet.tick(behaviour);
        outcomes.forEach((o, i) => o.action === 'failed' && o.kind === 'install' && failed.add(fleet.devices[i]!.id));
        if (version === '1.1.0') scene.afterCheckins(fleet.devices, outcomes);
        await fleet.heartbeats();
        await new Promise((r) => setTimeout(r, 300));
        return outcomes.some((o) => o.action === 'updated' || o.action === 'rolled-back' || o.action === 'failed');
      };
      while (watching) await tick();
      if ((await watch) !== 0) throw new Error(`ota rollout status ${id} --watch failed`);
      // A ring passes once its test has decided, often before every device of it has checked in: a
      // finished rollout keeps serving its release, so the rest get it at their next check-ins.
      let settling = 0;
      while (settling++ < 20 && ((await tick()) || !scene.done));
      return id;
    };

    const goodId = await rollout('1.1.0');
    const byDelta = fleet.devices.filter((d) => d.downloaded?.kind === 'delta').length;
    const good = fleet.versions();
    // A device whose install failed is not offered the release again by the rollout (`ota fleet retry`
    // clears it); once the rollout has finished, the release is free to it as to any late device.
    const noisy = failedInstalls.get('1.1.0')!;
    steps.push({
      title: 'rollout of 1.1.0 reached the whole fleet',
      ok: fleet.devices.every((d) => noisy.has(d.id) || d === scene.device || d.current.version === '1.1.0'),
      detail: `${describeVersions(good)}; ${byDelta} devices fetched a delta; ${noisy.size} installs failed for unrelated reasons (device noise), counted by the rings and not re-offered while the rollout ran`,
    });
    steps.push({
      title: 'a device with a tampered slot measurement was quarantined and remediated by its last good release',
      ok: scene.phase === 'remediated',
      detail: scene.device ? `${scene.device.id}: ${scene.phase}, runs ${scene.device.current.version}; ${scene.remediationAnswer ?? 'no quarantine answer seen'}` : 'no device was picked',
    });
    sceneDevice = scene.device?.id;
    const goodStatus = JSON.parse(await ota('final status of the 1.1.0 rollout', ['rollout', 'status', goodId, '--json'])) as { state: string };
    if (goodStatus.state !== 'completed') throw new Error(`1.1.0 rollout ended ${goodStatus.state}`);

    buildSampleImage({ version: '1.2.0', out: join(images, 'firmware-1.2.0.tar'), crashLoop: true });
    crashes.add('1.2.0');
    say('\nbuilt 1.2.0: this build crash-loops on boot (the simulated devices fail their boot health check and fall back)');
    await ota('publish release 1.2.0', ['release', 'publish', '--worker', 'remote', '--image', join(images, 'firmware-1.2.0.tar'), '--version', '1.2.0', '--hardware', HARDWARE]);
    const badId = await rollout('1.2.0');
    await ota('why the 1.2.0 rollout stopped', ['rollout', 'status', badId]);
    steps.pop();
    const bad = JSON.parse(await ota('1.2.0 rollout status', ['rollout', 'status', badId, '--json'])) as {
      state: string;
      exposure: { devices: number; fleet: number };
      decisions: Array<{ action: string; reason: string; ring?: string }>;
    };
    const breach = bad.decisions.find((d) => d.action === 'rollback' || d.action === 'halt');
    say(`\n1.2.0: ${bad.state}; exposure ${bad.exposure.devices} of ${bad.exposure.fleet} devices; ${breach ? `[${breach.ring}] ${breach.reason}` : 'no breach recorded'}`);
    const after = fleet.versions();
    steps.push({
      title: 'crash-looping 1.2.0 halted in the canary ring and rolled back',
      ok: bad.state === 'rolled-back' && breach?.ring === 'canary' && bad.exposure.devices <= 5 && !after['1.2.0'],
      detail: `exposure ${bad.exposure.devices}/${bad.exposure.fleet}; ${breach?.reason ?? '?'}; now ${describeVersions(after)}`,
    });
    await ota('rollouts so far', ['rollout', 'list', '--hardware', HARDWARE]);
  } finally {
    if (serve && serve.exitCode === null) {
      say('\n== stopping the gateway and the worker');
      serve.kill('SIGTERM');
      await new Promise((r) => serve!.once('exit', r));
    }
    say('\n== stopping the stack');
    const stopped = await downStack({ file: stackFile, stateDir, env: stackEnv, progress: say });
    steps.push({ title: 'stop the stack', ok: stopped.every((s) => s.result !== 'killed'), detail: stopped.map((s) => `${s.name}: ${s.result}`).join(', ') });
  }
  // The operator's view of the attestation scene, once the gateway no longer holds the embedded database.
  if (sceneDevice) {
    await ota('why was it quarantined: its drift events', ['fleet', 'drift', '--device', sceneDevice, '--all']);
    await ota('the quarantine record', ['fleet', 'quarantine', 'show', sceneDevice]);
    await ota('release it after remediation (recorded with who and why)', ['fleet', 'quarantine', 'release', sceneDevice, '--by', 'demo-operator', '--note', 'slot reflashed: back on 1.0.0, measuring clean']);
  }
  return { ok: steps.every((s) => s.ok), steps, temporalUi };
}

function describeVersions(versions: Record<string, number>): string {
  return Object.entries(versions)
    .map(([v, n]) => `${n} on ${v}`)
    .join(', ');
}

/** Says each line of a child's stream, indented, as it arrives; an unterminated last line at the end. */
function relayLines(stream: NodeJS.ReadableStream, say: (line: string) => void): void {
  let pending = '';
  stream.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) say(`  ${line}`);
  });
  stream.on('end', () => pending && say(`  ${pending}`));
}

/** Runs `ota ARGS` relaying its output line by line (for long-running commands like --watch). */
function spawnOta(args: string[], env: NodeJS.ProcessEnv, say: (line: string) => void): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(projectRoot, 'bin', 'ota.js'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    relayLines(child.stdout, say);
    relayLines(child.stderr, say);
    child.on('error', reject);
    child.on('close', (code) => resolvePromise(code ?? 1));
  });
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

function runOta(args: string[], env: NodeJS.ProcessEnv, say: (line: string) => void, quiet = false): Promise<{ code: number; stdout: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(projectRoot, 'bin', 'ota.js'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    relayLines(child.stderr, say);
    child.on('error', reject);
    child.on('close', (code) => {
      if (!quiet) for (const line of stdout.trimEnd().split('\n')) if (line) say(`  ${line}`);
      resolvePromise({ code: code ?? 1, stdout });
    });
  });
}
