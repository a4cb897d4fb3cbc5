// Attack class: endless data. Endless and oversized answers from a gateway (a real local HTTP
// server), endless files and tar bombs in offline bundles, and scratch space after power cuts:
// every read of untrusted input is bounded before anything parses it (docs/device-agent.md,
// "Limits"), each refusal has its own code and changes nothing on the device. (An artifact longer
// than its manifest says: test/device-client/agent/offline-install.test.ts.)
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkInOnce } from '../../device-client/agent/checkin.js';
import { installUpdate, resumeInstall } from '../../device-client/agent/install.js';
import { GATEWAY_ANSWER_LIMITS, GatewayClient } from '../../device-client/gateway/gateway-client.js';
import { generateDeviceKey } from '../../schemas/device-envelope.js';
import { BUNDLE_LIMITS, BundleRefusedError, OfflineBundleSource } from '../../device-client/agent/offline-bundle.js';
import { sourceOpener } from '../../device-client/agent/sources.js';
import { deviceStatus } from '../../device-client/agent/status.js';
import { manifestBundleKey, manifestKey } from '../../release/layout.js';
import { OversizedInputError } from '../../verification/errors.js';
import { DEVICE_HARDWARE, type PublishedFixture, type SampleRelease } from '../support/device-releases.js';
import { createSimDevice, type SimDevice } from '../support/device-sim.js';
import { deviceSnapshot, unsignedFixture } from '../support/device-state-snapshot.js';
import { refusal } from '../support/attack-device.js';
import { startHostileGateway, type HostileAnswer, type HostileGateway } from '../support/hostile-gateway.js';

let root: string;
let fixture: PublishedFixture;
let factory: SampleRelease;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ota-bounded-'));
  // No release is ever verified here (every refusal comes before that): a factory image and a trust root file suffice.
  ({ fixture, factory } = await unsignedFixture(root));
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

let counter = 0;
const newDevice = () => createSimDevice(join(root, `device-${++counter}`), fixture, { factory });

const snapshot = deviceSnapshot;

async function installFrom(sim: SimDevice, bundle: string) {
  const device = await sim.open();
  const source = await OfflineBundleSource.open(bundle, device.scratchDir);
  try {
    return await installUpdate(device, { source, sourceRef: bundle });
  } finally {
    await source.close();
  }
}

const scratchOf = (sim: SimDevice) => readdir(join(sim.config.stateDir, 'scratch'));

// ---- a minimal ustar writer, so headers can say what an attacker wants them to say ----
function tarHeader(name: string, size: number, type = '0', linkname = ''): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write(type, 156);
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}
function tarFile(name: string, body: Buffer): Buffer {
  return Buffer.concat([tarHeader(name, body.length), body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
}
function paxRecord(key: string, value: string): Buffer {
  const text = ` ${key}=${value}\n`;
  let length = text.length + 1;
  while (`${length}${text}`.length !== length) length++;
  const body = Buffer.from(`${length}${text}`);
  return Buffer.concat([tarHeader('./PaxHeaders/x', body.length, 'x'), body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
}
const END = Buffer.alloc(1024);
const blobName = (i: number) => `./blobs/sha256/${createHash('sha256').update(String(i)).digest('hex')}`;

describe('bounded before verified: offline bundles', () => {
  it('an endless manifest.json is refused at the limit, fast and in bounded memory, with nothing changed', async () => {
    const sim = await newDevice();
    const bundle = join(root, 'endless');
    await mkdir(join(bundle, 'releases', DEVICE_HARDWARE, '1.0.1'), { recursive: true });
    await symlink('/dev/zero', join(bundle, manifestKey(DEVICE_HARDWARE, '1.0.1')));
    await writeFile(join(bundle, manifestBundleKey(DEVICE_HARDWARE, '1.0.1')), '{}');
    const before = await snapshot(sim);
    const rss = process.memoryUsage().rss;
    const started = Date.now();
    const error = await installFrom(sim, bundle).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OversizedInputError);
    expect(error).toMatchObject({ code: 'OVERSIZED_INPUT' });
    expect((error as Error).message).toContain(`larger than the ${BUNDLE_LIMITS.manifestBytes} bytes allowed`);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 1024 * 1024);
    expect(await snapshot(sim)).toEqual(before);
  });

  it('an oversized manifest.json file and an endless signature bundle are refused the same way', async () => {
    const sim = await newDevice();
    const bundle = join(root, 'huge');
    await mkdir(join(bundle, 'releases', DEVICE_HARDWARE, '1.0.1'), { recursive: true });
    await writeFile(join(bundle, manifestKey(DEVICE_HARDWARE, '1.0.1')), '');
    await truncate(join(bundle, manifestKey(DEVICE_HARDWARE, '1.0.1')), 8 * 1024 ** 3); // sparse: 8 GiB stated, nothing read
    await writeFile(join(bundle, manifestBundleKey(DEVICE_HARDWARE, '1.0.1')), '{}');
    const before = await snapshot(sim);
    await expect(installFrom(sim, bundle)).rejects.toThrow(/manifest of 1\.0\.1 is 8589934592 bytes, more than the 1048576 allowed/);
    await rm(join(bundle, manifestBundleKey(DEVICE_HARDWARE, '1.0.1')));
    await symlink('/dev/zero', join(bundle, manifestBundleKey(DEVICE_HARDWARE, '1.0.1')));
    await expect(installFrom(sim, bundle)).rejects.toBeInstanceOf(OversizedInputError);
    expect(await snapshot(sim)).toEqual(before);
  });

  it.each([
    [
      'more members than allowed (counted from the headers)',
      'BUNDLE_TOO_MANY_MEMBERS',
      () => Buffer.concat([...Array.from({ length: BUNDLE_LIMITS.tarMembers + 1 }, (_, i) => tarFile(blobName(i), Buffer.alloc(0))), END]),
    ],
    // The header states 5 GiB; the body is not there at all: refused from the header, before a byte is written.
    ['members larger in total than allowed (stated in a header)', 'BUNDLE_TOO_LARGE', () => Buffer.concat([tarFile(blobName(1), Buffer.from('x')), tarHeader(blobName(2), 5 * 1024 ** 3)])],
    ['a symlink member', 'BUNDLE_UNEXPECTED_MEMBER', () => Buffer.concat([tarHeader(blobName(1), 0, '2', '/etc/shadow'), END])],
    ['a name outside the bundle layout', 'BUNDLE_UNEXPECTED_MEMBER', () => Buffer.concat([tarFile('./../../escape.sh', Buffer.from('#!/bin/sh\n')), END])],
    ['an unexpected file name', 'BUNDLE_UNEXPECTED_MEMBER', () => Buffer.concat([tarFile('./releases/x/1.0.1/run-me.sh', Buffer.from('#!/bin/sh\n')), END])],
    ['the same member twice', 'BUNDLE_UNEXPECTED_MEMBER', () => Buffer.concat([tarFile(blobName(1), Buffer.from('a')), tarFile(blobName(1), Buffer.from('b')), END])],
    ['not a tar at all', 'BUNDLE_MALFORMED_TAR', () => Buffer.alloc(4096, 0x41)],
    ['endless pax records before an entry (more than 1 MiB in all)', 'BUNDLE_MALFORMED_TAR', () => Buffer.concat([...Array.from({ length: 2100 }, (_, i) => paxRecord(`k${i}`, 'v'.repeat(500))), END])],
  ] as const)('a tar bundle with %s is refused while streaming (%s), nothing kept, nothing changed', async (_what, code, build) => {
    const sim = await newDevice();
    const tar = join(root, `bomb-${counter}.tar`);
    await writeFile(tar, build());
    const before = await snapshot(sim);
    const device = await sim.open();
    const error = await OfflineBundleSource.open(tar, device.scratchDir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BundleRefusedError);
    expect(error).toMatchObject({ code });
    expect(await scratchOf(sim)).toEqual([]);
    expect(await readdir(root)).not.toContain('escape.sh');
    expect(await snapshot(sim)).toEqual(before);
  });

  it('a well-formed tar bundle with the expected names unpacks (a gzip one too)', async () => {
    const sim = await newDevice();
    const body = Buffer.from('{"schemaVersion":1}');
    const tar = Buffer.concat([tarHeader('./', 0, '5'), tarHeader('./blobs/', 0, '5'), tarFile(blobName(7), body), tarFile(`./releases/${DEVICE_HARDWARE}/channels/stable/index.json`, body), END]);
    const { gzipSync } = await import('node:zlib');
    for (const [name, bytes] of [['ok.tar', tar], ['ok.tar.gz', gzipSync(tar)]] as const) {
      const path = join(root, `${counter}-${name}`);
      await writeFile(path, bytes);
      const source = await OfflineBundleSource.open(path, (await sim.open()).scratchDir);
      const chunks: Buffer[] = [];
      for await (const chunk of await source.open(blobName(7).slice(2))) chunks.push(chunk as Buffer);
      expect(Buffer.concat(chunks)).toEqual(body);
      await source.close();
    }
    expect(await scratchOf(sim)).toEqual([]);
  });
});

describe('scratch space after a power cut', () => {
  it('an unpacked bundle left by a cut is reclaimed by the next tar install and at agent start', async () => {
    const sim = await newDevice();
    const scratch = (await sim.open()).scratchDir;
    // What a cut in the middle of a tar-bundle install leaves behind: the unpacked bundle (and an install folder).
    for (const stale of ['bundle-cut1', 'bundle-cut2']) {
      await mkdir(join(scratch, stale, 'blobs', 'sha256'), { recursive: true });
      await writeFile(join(scratch, stale, 'blobs', 'sha256', 'image'), Buffer.alloc(1 << 20));
    }
    const tar = join(root, `next-${counter}.tar`);
    await writeFile(tar, Buffer.concat([tarFile(blobName(1), Buffer.from('a')), END]));
    const source = await OfflineBundleSource.open(tar, scratch);
    expect((await scratchOf(sim)).filter((e) => e.startsWith('bundle-'))).toHaveLength(1); // only its own
    await source.close();
    expect(await scratchOf(sim)).toEqual([]);

    await mkdir(join(scratch, 'bundle-cut3'));
    await mkdir(join(scratch, 'install-0123456789abcdef'));
    await writeFile(join(scratch, 'install-0123456789abcdef', 'image'), Buffer.alloc(1 << 20));
    const before = await snapshot(sim);
    // At agent start (`run`, `check`, `resume`): no journal, so nothing in scratch is in use.
    expect(await resumeInstall(await sim.open(), sourceOpener(scratch))).toEqual({ outcome: 'nothing-to-resume' });
    expect(await scratchOf(sim)).toEqual([]);
    expect(await snapshot(sim)).toEqual(before);
  });

  it('an install finished after a cut (journal at "activated") leaves no image-sized scratch files', async () => {
    const sim = await newDevice();
    const device = await sim.open();
    const image = { version: '1.0.1', sha256: factory.sha256, length: factory.length, securityVersion: 1 };
    const journal = await device.journal.begin({ source: join(root, 'gone.tar'), version: '1.0.1', manifestSha256: 'ab'.repeat(32), booted: 'A', target: 'B', artifact: 'delta', image });
    await device.journal.advance(journal, 'activated');
    const work = join(device.scratchDir, `install-${'ab'.repeat(8)}`);
    await mkdir(work);
    await writeFile(join(work, 'base'), Buffer.alloc(1 << 20));
    await writeFile(join(work, 'patched'), Buffer.alloc(1 << 20));
    expect(await resumeInstall(device, sourceOpener(device.scratchDir))).toMatchObject({ outcome: 'activated', resumed: true });
    expect(await scratchOf(sim)).toEqual([]);
    expect((await deviceStatus(await sim.open())).pendingBoot?.slot).toBe('B');
  });
});

describe('bounded before parsed: gateway answers', () => {
  let gateway: HostileGateway | undefined;
  afterEach(async () => {
    await gateway?.close();
    gateway = undefined;
  });

  /** A device on a gateway that answers `path` with `how`: one check-in round, refused. */
  async function checkInAgainst(path: string, how: HostileAnswer) {
    gateway = await startHostileGateway((p) => (p === path ? how : undefined));
    const sim = await createSimDevice(join(root, `gw-device-${++counter}`), fixture, { factory, config: { gatewayUrl: gateway.url } });
    const device = await sim.open();
    const key = generateDeviceKey('ed25519');
    const client = new GatewayClient(gateway.url, { timeoutMs: 10_000 });
    const rss = process.memoryUsage().rss;
    const started = Date.now();
    const result = await refusal(sim, () => checkInOnce(device, { client, key, bootCheck: false }));
    return { ...result, ms: Date.now() - started, rssGrowth: process.memoryUsage().rss - rss };
  }

  it.each([
    ['/v1/nonce', GATEWAY_ANSWER_LIMITS.nonceBytes],
    ['/v1/checkin', GATEWAY_ANSWER_LIMITS.checkinBytes],
  ] as const)('an endless answer to %s is cut at its limit (GATEWAY_ANSWER_TOO_LARGE), fast, in bounded memory, nothing changed', async (path, limit) => {
    const result = await checkInAgainst(path, 'endless');
    expect(result.code).toBe('GATEWAY_ANSWER_TOO_LARGE');
    expect(result.message).toContain(`larger than the ${limit} bytes allowed`);
    expect(result.ms).toBeLessThan(5_000);
    expect(result.rssGrowth).toBeLessThan(64 * 1024 * 1024);
    expect(result.after).toEqual(result.before);
  });

  it('a declared Content-Length of a terabyte is refused before a byte of the body is read', async () => {
    const result = await checkInAgainst('/v1/checkin', 'huge-length');
    expect(result.code).toBe('GATEWAY_ANSWER_TOO_LARGE');
    expect(result.message).toContain(`${1024 ** 4} bytes, more than the ${GATEWAY_ANSWER_LIMITS.checkinBytes} allowed`);
    expect(result.after).toEqual(result.before);
  });
});
