// Posture facts the agent gathers: listening ports from /proc/net (a fixture table, and the real
// /proc with a socket this test opens), bounded reads, enabled services, the config digest, and
// with a software TPM the boot PCR as the measurement (a changed PCR is an unexpected measurement).
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDeviceConfig } from '../../../device-client/config.js';
import { listeningPorts, parseProcNet } from '../../../device-client/reports/posture-ports.js';
import { agentVersion, collectPosture, configDigest, enabledServices } from '../../../device-client/reports/posture.js';
import type { Device } from '../../../device-client/agent/device.js';
import { extendPcr, readPcr, resetPcr } from '../../../device-client/tpm/tpm-pcr.js';
import { driftBetween } from '../../../attestation/drift.js';
import { swtpmAvailable, useSoftwareTpm } from '../../support/swtpm.js';

const root = mkdtempSync(join(tmpdir(), 'ota-posture-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 100 0 0 10 0
   2: 0100007F:A0C2 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 100 0 0 10 0
`;
const UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  10: 00000000:007B 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4 2 0000000000000000 0
  11: 0100007F:D431 0100007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 5 2 0000000000000000 0
`;

function fixtureProc(name: string, files: Record<string, string>): string {
  const dir = join(root, name);
  mkdirSync(join(dir, 'net'), { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, 'net', file), text);
  return dir;
}

describe('listening ports from /proc/net', () => {
  it('parses listening TCP and unconnected UDP sockets, not established ones', () => {
    expect(parseProcNet(TCP, 'tcp')).toEqual(['tcp/22', 'tcp/8080']);
    expect(parseProcNet(UDP, 'udp')).toEqual(['udp/123']);
    expect(parseProcNet('header\ngarbage line\n 0: zz:zz 00:00 0A\n', 'tcp')).toEqual([]);
  });

  it('folds v4 and v6 together, sorts, tolerates missing tables', async () => {
    const proc = fixtureProc('v46', { tcp: TCP, tcp6: TCP.replace('0016', '01BB'), udp: UDP });
    expect(await listeningPorts(proc, 256)).toEqual({ ports: ['tcp/22', 'tcp/443', 'tcp/8080', 'udp/123'], truncated: false });
  });

  it('is bounded: past the byte limit or the port limit the list says it is truncated', async () => {
    const proc = fixtureProc('big', { tcp: TCP });
    const cut = await listeningPorts(proc, 256, 300); // the header and one line fit
    expect(cut.truncated).toBe(true);
    expect(cut.ports).toEqual(['tcp/22']);
    expect(await listeningPorts(proc, 1)).toEqual({ ports: ['tcp/22'], truncated: true });
  });

  it('sees a socket this process opens in the real /proc, and no longer once it is closed', async () => {
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const udp = createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    const udpPort = udp.address().port;
    const open = await listeningPorts('/proc', 256);
    expect(open.ports).toContain(`tcp/${port}`);
    expect(open.ports).toContain(`udp/${udpPort}`);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    udp.close();
    expect((await listeningPorts('/proc', 256)).ports).not.toContain(`tcp/${port}`);
  });
});

describe('services, config digest, agent version', () => {
  const config = (over: Record<string, unknown> = {}) =>
    parseDeviceConfig({ deviceId: 'p1', hardwareId: 'hw-p', slots: { A: 'a', B: 'b' }, bootloader: { kind: 'state-file', path: 'boot.json' }, trust: { trustedRootPath: 'root.json' }, stateDir: 'state', ...over }, root);

  it('lists configured services, or the entries of a folder (.service dropped, bad names skipped)', async () => {
    expect(await enabledServices(config({ posture: { services: ['sshd', 'ota-agent', 'sshd'] } }).posture)).toEqual({ services: ['ota-agent', 'sshd'], truncated: false });
    const dir = join(root, 'wants');
    mkdirSync(dir);
    for (const name of ['sshd.service', 'cron.service', 'bad name.service']) writeFileSync(join(dir, name), '');
    expect(await enabledServices(config({ posture: { servicesDir: dir } }).posture)).toEqual({ services: ['cron', 'sshd'], truncated: false });
    expect(await enabledServices(config({ posture: { servicesDir: join(root, 'none') } }).posture)).toEqual({ services: [], truncated: false });
  });

  it('the config digest is stable across key order and changes with any value', () => {
    const a = configDigest(config());
    expect(configDigest(config())).toBe(a);
    expect(configDigest(config({ heartbeat: { intervalSeconds: 61 } }))).not.toBe(a);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });

  it('the agent version is the package version', async () => {
    expect(await agentVersion()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe.skipIf(!swtpmAvailable('posture boot measurement from the TPM'))('boot measurement from a software TPM', () => {
  const env = useSoftwareTpm('ota-posture-tpm-');

  it('a TPM device reports the boot PCR it holds; extended with anything else, it is an unexpected measurement', async () => {
    const config = parseDeviceConfig(
      { deviceId: 'p-tpm', hardwareId: 'hw-p', slots: { A: 'a', B: 'b' }, bootloader: { kind: 'state-file', path: 'boot.json' }, trust: { trustedRootPath: 'root.json' }, stateDir: 'state-tpm', tpm: { tcti: env.tpm.tcti }, posture: { procRoot: fixtureProc('tpm', { tcp: TCP }) } },
      root,
    );
    const device = { config, slots: {} } as unknown as Device;
    await resetPcr(env.tpm, 16);
    await extendPcr(env.tpm, 16, 'ab'.repeat(32));
    const expected = await readPcr(env.tpm, 16);
    const posture = (await collectPosture(device, { booted: 'A', image: { length: 1 }, bootCount: 1 }))!;
    expect(posture.bootMeasurement).toEqual({ source: 'tpm-pcr', pcr: 16, value: expected });
    expect(posture.listening).toEqual(['tcp/22', 'tcp/8080']);
    const desired = { claimedRelease: { version: '1.0.0', bootMeasurement: { pcr: 16, value: expected } } };
    expect(driftBetween(desired, { releaseVersion: '1.0.0', posture })).toEqual([]);
    await extendPcr(env.tpm, 16, 'ee'.repeat(32));
    const tampered = (await collectPosture(device, { booted: 'A', image: { length: 1 }, bootCount: 1 }))!;
    expect(driftBetween(desired, { releaseVersion: '1.0.0', posture: tampered }).map((d) => d.kind)).toEqual(['unexpected-measurement']);
  }, 120_000);
});
