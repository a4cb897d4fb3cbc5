// The `ota-device` program itself (a child process, as a script runs it): `--version` before any
// command is the agent's version; after `install` or `provision` it is the release's version and
// reaches the command (it used to be swallowed by the program, printing 0.1.0 and exiting 0).
import { createPublicKey } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceStatus } from '../../device-client/agent/status.js';
import { projectRoot } from '../../platform/paths.js';
import { generateDeviceKey } from '../../schemas/device-envelope.js';
import { buildDeviceCli, runDeviceCli } from '../support/device-cli.js';
import { factoryChain, makeFactoryCa } from '../support/factory-ca.js';

interface Setup {
  root: string;
  /** Runnable ota-device entry over the transpiled sources. */
  cli: string;
  /** A device with file slots and a state-file bootloader, not provisioned yet. */
  configPath: string;
  /** The package version `ota-device --version` prints. */
  version: string;
}
let setup: Setup;

async function prepare(): Promise<Setup> {
  const root = await mkdtemp(join(tmpdir(), 'ota-device-cli-'));
  const dir = join(root, 'device');
  await mkdir(join(dir, 'state'), { recursive: true });
  await writeFile(join(dir, 'slot-a.img'), Buffer.alloc(4096, 0xa5));
  await writeFile(join(dir, 'slot-b.img'), Buffer.alloc(4096, 0x5a));
  await writeFile(join(dir, 'cmdline'), 'console=ttyS0 ota.slot=A\n');
  await writeFile(join(dir, 'trusted_root.json'), '{}\n');
  const configPath = join(dir, 'device.json');
  const config = {
    deviceId: 'cli-test',
    hardwareId: 'cli-test-board',
    slots: { A: 'slot-a.img', B: 'slot-b.img' },
    bootloader: { kind: 'state-file', path: 'boot-state.json' },
    cmdlinePath: 'cmdline',
    trust: { trustedRootPath: 'trusted_root.json' },
    stateDir: 'state',
  };
  await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`);
  const { version } = JSON.parse(await readFile(join(projectRoot, 'package.json'), 'utf8')) as { version: string };
  return { root, cli: await buildDeviceCli(join(root, 'cli')), configPath, version };
}

beforeAll(async () => {
  setup = await prepare();
}, 300_000);

afterAll(async () => {
  if (setup) await rm(setup.root, { recursive: true, force: true });
});

describe('ota-device --version', () => {
  it('before any command prints the agent version and nothing else', async () => {
    for (const flag of ['--version', '-V']) {
      const run = await runDeviceCli(setup.cli, [flag]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toBe(`${setup.version}\n`);
    }
  });

  it('provision --version V records V as the factory image version', async () => {
    const run = await runDeviceCli(setup.cli, ['--config', setup.configPath, 'provision', '--slot', 'A', '--version', '1.0.0', '--boot-state']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('slot A holds 1.0.0');
    // --config after the command works as before it.
    const status = await runDeviceCli(setup.cli, ['status', '--json', '--config', setup.configPath]);
    expect(status.code, status.stderr).toBe(0);
    expect((JSON.parse(status.stdout) as DeviceStatus).slots.A.image?.version).toBe('1.0.0');
  });

  it('provision --force cannot lower the anti-rollback floor: one line with the code, exit 1, state files unchanged', async () => {
    const args = ['--config', setup.configPath, 'provision', '--slot', 'A', '--version', '1.0.0', '--boot-state', '--force'];
    expect((await runDeviceCli(setup.cli, [...args, '--security-version', '3'])).code).toBe(0);
    const stateFiles = ['agent-state.json', 'security-floor.json'].map((f) => join(setup.root, 'device', 'state', f));
    const before = await Promise.all(stateFiles.map((f) => readFile(f)));
    const run = await runDeviceCli(setup.cli, [...args, '--security-version', '0']);
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain('refused (SECURITY_FLOOR_LOWER_REFUSED): security version 0 is below this device\'s anti-rollback floor 3');
    expect(await Promise.all(stateFiles.map((f) => readFile(f)))).toEqual(before);
    // Without --security-version the floor is kept.
    const again = await runDeviceCli(setup.cli, args);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('stored security version 3');
  });

  it('install --version 9.9.9 BUNDLE reaches install, which refuses it (non-zero exit, not the agent version)', async () => {
    const bundle = join(setup.root, 'empty-bundle');
    await mkdir(bundle, { recursive: true });
    const run = await runDeviceCli(setup.cli, ['--config', setup.configPath, 'install', '--version', '9.9.9', bundle]);
    expect(run.code).toBe(1);
    expect(run.stdout).not.toContain(setup.version);
    expect(run.stderr).toMatch(/has no release 9\.9\.9 for cli-test-board/);
  });
});

describe('ota-device provision: enrollment credentials', () => {
  /** The same device on a fresh state dir of its own (the floor tests above keep theirs). */
  async function freshConfig(name: string): Promise<{ configPath: string; stateDir: string }> {
    const dir = join(setup.root, 'device');
    const config = JSON.parse(await readFile(setup.configPath, 'utf8')) as Record<string, unknown>;
    const configPath = join(dir, `${name}.json`);
    await writeFile(configPath, JSON.stringify({ ...config, stateDir: name }));
    return { configPath, stateDir: join(dir, name) };
  }
  const provision = (configPath: string, ...flags: string[]) => runDeviceCli(setup.cli, ['--config', configPath, 'provision', '--slot', 'A', '--version', '1.0.0', ...flags]);

  it('--enrollment-token keeps the per-device token 0600; a malformed one is refused before anything is written', async () => {
    const { configPath, stateDir } = await freshConfig('state-token');
    const bad = await provision(configPath, '--enrollment-token', 'short');
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    await expect(stat(join(stateDir, 'agent-state.json'))).rejects.toMatchObject({ code: 'ENOENT' });
    const ok = await provision(configPath, '--enrollment-token', 'ota-et1_0123456789abcdef0123456789');
    expect(ok.code, ok.stderr).toBe(0);
    expect((await stat(join(stateDir, 'enrollment-token'))).mode & 0o777).toBe(0o600);
    expect((await readFile(join(stateDir, 'enrollment-token'), 'utf8')).trim()).toBe('ota-et1_0123456789abcdef0123456789');
  });

  it('--factory-cert/--factory-key install the IDevID and make its key the device key; a key that is not the certificate\'s is refused first', async () => {
    const { configPath, stateDir } = await freshConfig('state-factory');
    const ca = await makeFactoryCa('CLI Factory');
    const key = generateDeviceKey('ecdsa-p256-sha256');
    const chainFile = join(setup.root, 'idevid.pem');
    const keyFile = join(setup.root, 'idevid.key');
    const otherKeyFile = join(setup.root, 'other.key');
    await writeFile(chainFile, (await factoryChain(ca, 'cli-test', key)).join(''));
    await writeFile(keyFile, key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
    await writeFile(otherKeyFile, generateDeviceKey('ecdsa-p256-sha256').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
    const wrong = await provision(configPath, '--factory-cert', chainFile, '--factory-key', otherKeyFile);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/--factory-key is not the key of the first certificate/);
    await expect(stat(join(stateDir, 'agent-state.json'))).rejects.toMatchObject({ code: 'ENOENT' });
    const ok = await provision(configPath, '--factory-cert', chainFile, '--factory-key', keyFile);
    expect(ok.code, ok.stderr).toBe(0);
    for (const file of ['device-key.pem', 'factory-identity.pem']) expect((await stat(join(stateDir, file))).mode & 0o777).toBe(0o600);
    const installed = createPublicKey(await readFile(join(stateDir, 'device-key.pem'), 'utf8')).export({ type: 'spki', format: 'pem' }).toString();
    expect(installed).toBe(key.publicKeyPem);
    expect((await readFile(join(stateDir, 'factory-identity.pem'), 'utf8')).match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
  });
});
