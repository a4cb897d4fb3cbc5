// `ota-device provision --fleet-ca F --answer-key F` (a child process): the fleet CA root and the
// gateway answer key are checked before anything is written, then pinned 0600 in the state folder;
// an intermediate offered as the root is refused in one line with its code, nothing provisioned.
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createFleetCa } from '../../identity/fleet-ca.js';
import { generateDeviceKey } from '../../schemas/device-envelope.js';
import { buildDeviceCli, runDeviceCli } from '../support/device-cli.js';

let root: string;
let cli: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ota-device-pins-'));
  cli = await buildDeviceCli(join(root, 'cli'));
}, 300_000);
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

async function device(name: string): Promise<{ config: string; state: string }> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'slot-a.img'), Buffer.alloc(4096, 0xa5));
  await writeFile(join(dir, 'slot-b.img'), Buffer.alloc(4096, 0x5a));
  await writeFile(join(dir, 'cmdline'), 'console=ttyS0 ota.slot=A\n');
  await writeFile(join(dir, 'trusted_root.json'), '{}\n');
  const config = { deviceId: `pins-${name}`, hardwareId: 'pins-board', gatewayUrl: 'https://127.0.0.1:8440', slots: { A: 'slot-a.img', B: 'slot-b.img' }, bootloader: { kind: 'state-file', path: 'boot-state.json' }, cmdlinePath: 'cmdline', trust: { trustedRootPath: 'trusted_root.json' }, stateDir: 'state' };
  await writeFile(join(dir, 'device.json'), JSON.stringify(config));
  return { config: join(dir, 'device.json'), state: join(dir, 'state') };
}

it('pins the fleet CA root and the answer key, 0600 in the state folder', async () => {
  const ca = await createFleetCa();
  await writeFile(join(root, 'root.crt.pem'), ca.root.certPem);
  await writeFile(join(root, 'answer.pub'), generateDeviceKey('ecdsa-p256-sha256').publicKeyPem);
  const d = await device('ok');
  const run = await runDeviceCli(cli, ['--config', d.config, 'provision', '--slot', 'A', '--version', '1.0.0', '--fleet-ca', join(root, 'root.crt.pem'), '--answer-key', join(root, 'answer.pub')]);
  expect(run.code, run.stderr).toBe(0);
  expect(run.stdout).toMatch(/fleet CA CN=edge-ota Fleet Root CA pinned, gateway answer key pinned/);
  for (const file of ['fleet-ca.pem', 'gateway-answer-key.pem']) expect((await stat(join(d.state, file))).mode & 0o777).toBe(0o600);
}, 120_000);

it('refuses an intermediate as the fleet CA before provisioning anything', async () => {
  const ca = await createFleetCa();
  await writeFile(join(root, 'intermediate.crt.pem'), ca.intermediate.certPem);
  const d = await device('bad');
  const run = await runDeviceCli(cli, ['--config', d.config, 'provision', '--slot', 'A', '--version', '1.0.0', '--fleet-ca', join(root, 'intermediate.crt.pem')]);
  expect(run.code).not.toBe(0);
  expect(run.stderr.trim().split('\n')).toHaveLength(1);
  expect(run.stderr).toMatch(/FLEET_CA_INVALID|not a self-signed CA/);
  await expect(stat(join(d.state, 'agent-state.json'))).rejects.toMatchObject({ code: 'ENOENT' });
}, 120_000);
