import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Of } from '../../../device-client/slots/slot-digest.js';
import { SlotDevice, SlotWriteRefused } from '../../../device-client/slots/slot-device.js';
import { mountPointsOf, mountPointsOfDevice, splitDeviceNumber } from '../../../device-client/slots/mounted-devices.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ota-slots-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Two file-backed slots, B holding an old image. */
async function slots(name: string) {
  const a = join(dir, `${name}-a.img`);
  const b = join(dir, `${name}-b.img`);
  await writeFile(a, 'running system');
  await writeFile(b, 'old image in B');
  return { a: new SlotDevice('A', a), b: new SlotDevice('B', b) };
}

/** An image source in uneven chunks, like a decompressor's output. */
function chunked(image: Buffer): Readable {
  const sizes = [1, 4095, 65536, 100_003];
  let offset = 0;
  let i = 0;
  return Readable.from(
    (function* () {
      while (offset < image.length) {
        const size = sizes[i++ % sizes.length]!;
        yield image.subarray(offset, offset + size);
        offset += size;
      }
    })(),
  );
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('SlotDevice.openForWrite', () => {
  it('streams an image into the inactive slot; the digest read back matches the source', async () => {
    const { b } = await slots('stream');
    const image = randomBytes(3 * 1024 * 1024 + 17);
    const stream = await b.openForWrite('A');
    await pipeline(chunked(image), stream);
    expect(stream.bytesWritten).toBe(image.length);
    expect(await sha256Of(b, image.length)).toBe(sha256(image));
    expect((await readFile(b.path)).equals(image)).toBe(true);
  });

  it('refuses the active slot with a clear error and leaves it untouched', async () => {
    const { a } = await slots('active');
    await expect(a.openForWrite('A')).rejects.toThrow(SlotWriteRefused);
    await expect(a.openForWrite('A')).rejects.toThrow(/refusing to write slot A .*: it is the active \(booted\) slot/);
    expect(await readFile(a.path, 'utf8')).toBe('running system');
  });

  it('refuses a missing path instead of creating a file, and anything that is not a file or block device', async () => {
    await expect(new SlotDevice('B', join(dir, 'nope.img')).openForWrite('A')).rejects.toThrow(/does not exist/);
    await mkdir(join(dir, 'a-directory'));
    await expect(new SlotDevice('B', join(dir, 'a-directory')).openForWrite('A')).rejects.toThrow(/neither a regular file nor a block device/);
    await expect(new SlotDevice('B', '/dev/null').openForWrite('A')).rejects.toThrow(/neither a regular file nor a block device/);
  });

  it('refuses an image larger than the slot capacity', async () => {
    const path = join(dir, 'small-b.img');
    await writeFile(path, '');
    const slot = new SlotDevice('B', path, { capacity: 1000 });
    await expect(pipeline(chunked(randomBytes(1001)), await slot.openForWrite('A'))).rejects.toThrow(/does not fit slot B: more than 1000 bytes/);
    const exact = randomBytes(1000);
    await pipeline(chunked(exact), await slot.openForWrite('A'));
    expect(await sha256Of(slot, 1000)).toBe(sha256(exact));
  });

  it('a file slot holds only the newest image (no tail of an older, longer one)', async () => {
    const { b } = await slots('rewrite');
    await pipeline(chunked(randomBytes(50_000)), await b.openForWrite('A'));
    const shorter = randomBytes(20_000);
    await pipeline(chunked(shorter), await b.openForWrite('A'));
    expect((await stat(b.path)).size).toBe(shorter.length);
    expect(await sha256Of(b, shorter.length)).toBe(sha256(shorter));
  });

  it('fsync() of a slot succeeds on a written file', async () => {
    const { b } = await slots('fsync');
    await pipeline(chunked(randomBytes(10)), await b.openForWrite('A'));
    await expect(b.fsync()).resolves.toBeUndefined();
  });
});

describe('sha256Of', () => {
  it('hashes exactly the first `length` bytes of a larger slot', async () => {
    const content = randomBytes(200_000);
    const path = join(dir, 'prefix.img');
    await writeFile(path, content);
    const slot = new SlotDevice('B', path);
    expect(await sha256Of(slot, 123_456)).toBe(sha256(content.subarray(0, 123_456)));
    expect(await sha256Of(slot, 0)).toBe(sha256(Buffer.alloc(0)));
  });

  it('fails when the slot holds fewer bytes than asked', async () => {
    const path = join(dir, 'short.img');
    await writeFile(path, 'abc');
    await expect(sha256Of(new SlotDevice('B', path), 4)).rejects.toThrow(/holds 3 bytes, fewer than the 4/);
    await expect(sha256Of(new SlotDevice('B', path), -1)).rejects.toThrow(/non-negative integer/);
  });
});

describe('mounted-device detection', () => {
  it('parses mountinfo lines by major:minor', () => {
    const text = [
      '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
      '31 27 179:2 / /mnt/data\\040dir rw - ext4 /dev/mmcblk0p2 rw',
      '32 27 179:3 / /boot rw - vfat /dev/mmcblk0p3 rw',
    ].join('\n');
    expect(mountPointsOf(text, 254, 0)).toEqual(['/']);
    expect(mountPointsOf(text, 179, 2)).toEqual(['/mnt/data dir']);
    expect(mountPointsOf(text, 179, 5)).toEqual([]);
  });

  it('splits dev_t like glibc', () => {
    expect(splitDeviceNumber(0xfe00)).toEqual({ major: 254, minor: 0 });
    expect(splitDeviceNumber((179 << 8) | 2)).toEqual({ major: 179, minor: 2 });
    // glibc's makedev encoding, including majors/minors beyond the old 8-bit fields.
    const makedev = (major: bigint, minor: bigint) =>
      Number((minor & 0xffn) | ((major & 0xfffn) << 8n) | ((minor & ~0xffn) << 12n) | ((major & ~0xfffn) << 32n));
    for (const [major, minor] of [[8, 1], [259, 65_536], [4_100, 300], [511, 1_048_575]] as const) {
      expect(splitDeviceNumber(makedev(BigInt(major), BigInt(minor)))).toEqual({ major, minor });
    }
  });

  it('finds the device of the running root filesystem mounted at /', async () => {
    expect(await mountPointsOfDevice((await stat('/')).dev)).toContain('/');
  });
});
