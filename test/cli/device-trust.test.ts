// `ota-device provision --tuf-root` and the trust line of `ota-device status`, through the real CLI
// (transpiled sources in a child process): a root signed by its own threshold is pinned in the trust
// folder, a root that is not is refused with its code and one line, and a device without one says so.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metadataBytes } from '../../trust/metadata.js';
import { createRepository } from '../../trust/repository.js';
import { buildDeviceCli, runDeviceCli } from '../support/device-cli.js';
import { newTufKey } from '../support/fleet-tuf.js';

let root: string;
let cli: string;
let rootFile: string;
let unsignedRootFile: string;

async function device(name: string): Promise<string> {
  const dir = join(root, name);
  await mkdir(join(dir, 'state'), { recursive: true });
  await writeFile(join(dir, 'slot-a.img'), Buffer.alloc(4096, 0xa5));
  await writeFile(join(dir, 'slot-b.img'), Buffer.alloc(4096, 0x5a));
  await writeFile(join(dir, 'cmdline'), 'console=ttyS0 ota.slot=A\n');
  await writeFile(join(dir, 'trusted_root.json'), '{}\n');
  const config = { deviceId: name, hardwareId: 'cli-board', slots: { A: 'slot-a.img', B: 'slot-b.img' }, bootloader: { kind: 'state-file', path: 'boot-state.json' }, cmdlinePath: 'cmdline', trust: { trustedRootPath: 'trusted_root.json' }, stateDir: 'state' };
  await writeFile(join(dir, 'device.json'), JSON.stringify(config));
  return join(dir, 'device.json');
}

const provision = (config: string, ...extra: string[]) => runDeviceCli(cli, ['--config', config, 'provision', '--slot', 'A', '--version', '1.0.0', '--boot-state', ...extra]);

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ota-device-trust-cli-'));
  cli = await buildDeviceCli(join(root, 'cli'));
  const onlineKey = newTufKey();
  const repo = createRepository({ rootKeys: [newTufKey(), newTufKey()], threshold: 2, signers: [newTufKey()], targetsKeys: [newTufKey()], onlineKey, now: new Date() });
  rootFile = join(root, '1.root.json');
  await writeFile(rootFile, metadataBytes(repo.roots[0]!));
  const unsigned = JSON.parse(metadataBytes(repo.roots[0]!).toString());
  unsignedRootFile = join(root, 'unsigned.root.json');
  await writeFile(unsignedRootFile, JSON.stringify({ ...unsigned, signatures: unsigned.signatures.slice(0, 1) }));
}, 120_000);

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('ota-device: the pinned TUF root', () => {
  it('provision --tuf-root pins the root in <trust folder>/tuf/root.json; status shows it', async () => {
    const config = await device('pinned');
    const run = await provision(config, '--tuf-root', rootFile, '--json');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ tufRootVersion: 1 });
    expect(await readFile(join(root, 'pinned', 'tuf', 'root.json'))).toEqual(await readFile(rootFile));
    const status = await runDeviceCli(cli, ['--config', config, 'status']);
    expect(status.stdout).toMatch(/trust: TUF root v1; no metadata walked yet/);
    const json = JSON.parse((await runDeviceCli(cli, ['--config', config, 'status', '--json'])).stdout);
    expect(json.trust).toEqual({ tuf: true, rootVersion: 1, seen: {} });
  });

  it('a root below its own threshold (one of two signatures) is refused: TUF_THRESHOLD_NOT_MET, one line, nothing pinned or provisioned', async () => {
    const config = await device('half-signed');
    const run = await provision(config, '--tuf-root', unsignedRootFile);
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/TUF_THRESHOLD_NOT_MET: .*is not signed by its own threshold/);
    await expect(readFile(join(root, 'half-signed', 'tuf', 'root.json'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(readFile(join(root, 'half-signed', 'state', 'agent-state.json'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('without --tuf-root the status says releases verify against trusted_root.json alone', async () => {
    const config = await device('legacy');
    expect((await provision(config)).code).toBe(0);
    expect((await runDeviceCli(cli, ['--config', config, 'status'])).stdout).toMatch(/trust: no TUF root pinned/);
  });
});
