// Ops delta apply on bad input: each case is a typed OpsDeltaError, and nothing but the output's
// own partial file is ever written (and that is removed): an existing output stays as it was.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImagePair } from '../../support/image-pairs.mjs';
import { applyOpsDelta, encodeOp, generateOpsDelta, HEADER_BYTES, OP_RECORD_BYTES, TRAILER_BYTES, type OpRecord, type OpsDeltaErrorCode } from '../../../deltas/ops/index.js';
import { opLayout, type OpLayout } from '../../support/ops-patch.js';

const sha256 = (buf: Buffer) => createHash('sha256').update(buf).digest('hex');

let dir: string;
let patch: Buffer;
let oldImage: string;
/** Byte ranges of each op record and its payload in the patch. */
let layout: OpLayout[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ota-delta-ops-bad-'));
  oldImage = join(dir, 'old.img');
  buildImagePair({ oldPath: oldImage, newPath: join(dir, 'new.img'), targetBytes: 3 * 1024 * 1024, seed: 21 });
  await generateOpsDelta({ sourcePath: oldImage, targetPath: join(dir, 'new.img'), outPath: join(dir, 'good.ops') });
  patch = readFileSync(join(dir, 'good.ops'));
  layout = opLayout(patch);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const oldDigest = () => sha256(readFileSync(oldImage));

/** Applies `bad` over an existing output and checks the error code and that nothing changed. */
async function expectRefused(bad: Buffer, code: OpsDeltaErrorCode | OpsDeltaErrorCode[], options: { source?: string; sourceCheck?: 'full' | 'extent' } = {}) {
  const work = mkdtempSync(join(dir, 'case-'));
  const patchPath = join(work, 'bad.ops');
  writeFileSync(patchPath, bad);
  const out = join(work, 'slot-b.img');
  writeFileSync(out, 'previous contents');
  const before = oldDigest();
  const err = await applyOpsDelta({ sourcePath: options.source ?? oldImage, patchPath, outPath: out, sourceCheck: options.sourceCheck }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toMatchObject({ name: 'OpsDeltaError' });
  expect([code].flat()).toContain((err as { code: string }).code);
  expect(readFileSync(out, 'utf8')).toBe('previous contents');
  expect(readdirSync(work).sort()).toEqual(['bad.ops', 'slot-b.img']);
  expect(oldDigest()).toBe(before);
  return err as Error;
}

const firstOf = (kind: OpRecord['kind']) => {
  const entry = layout.find((l) => l.op.kind === kind);
  if (!entry) throw new Error(`the test patch has no ${kind} op`);
  return entry;
};

describe('applyOpsDelta refuses', () => {
  it('a patch cut anywhere: in the header, an op record, a payload, or the trailer', async () => {
    const bsdiff = firstOf('bsdiff');
    for (const length of [100, HEADER_BYTES + 40, bsdiff.at + OP_RECORD_BYTES + 10, patch.length - TRAILER_BYTES, patch.length - 1]) {
      await expectRefused(patch.subarray(0, length), 'truncated');
    }
  });

  it('reordered ops', async () => {
    const [a, b] = [layout[0]!, layout[1]!];
    const swapped = Buffer.concat([patch.subarray(0, a.at), patch.subarray(b.at, b.end), patch.subarray(a.at, a.end), patch.subarray(b.end)]);
    const err = await expectRefused(swapped, 'out-of-order');
    expect(err.message).toMatch(/expected op 0 at 0/);
  });

  it('a dropped op', async () => {
    const c = layout[1]!;
    await expectRefused(Buffer.concat([patch.subarray(0, c.at), patch.subarray(c.end)]), 'out-of-order');
  });

  it("an op whose bytes do not match its sha256", async () => {
    const bad = Buffer.from(patch);
    bad[firstOf('copy').at + 48] ^= 0xff; // first byte of the op's sha256
    await expectRefused(bad, 'op-hash-mismatch');
  });

  it('a corrupted bsdiff payload', async () => {
    const bsdiff = firstOf('bsdiff');
    const bad = Buffer.from(patch);
    bad[bsdiff.at + OP_RECORD_BYTES + Math.floor(bsdiff.op.payloadLength / 2)] ^= 0x55;
    await expectRefused(bad, ['corrupt-payload', 'op-hash-mismatch']);
  });

  it('a bsdiff payload that claims another output size', async () => {
    const bsdiff = firstOf('bsdiff');
    const bad = Buffer.from(patch);
    bad.writeBigUInt64LE(BigInt(bsdiff.op.targetLength + 1), bsdiff.at + OP_RECORD_BYTES + 24);
    const err = await expectRefused(bad, 'corrupt-payload');
    expect(err.message).toMatch(/produces \d+ bytes, the op writes/);
  });

  it('an altered trailer digest, and bytes after the trailer', async () => {
    const bad = Buffer.from(patch);
    bad[patch.length - 1] ^= 1;
    await expectRefused(bad, 'patch-digest-mismatch');
    await expectRefused(Buffer.concat([patch, Buffer.from('x')]), 'trailing-data');
  });

  it('an altered header field that no op checks (the trailer digest chains the header and every record)', async () => {
    const bad = Buffer.from(patch);
    bad[64] ^= 0xff; // first byte of the target sha256
    await expectRefused(bad, 'patch-digest-mismatch');
  });

  it('an op that writes past the target end', async () => {
    const last = layout.at(-1)!;
    const op = { ...last.op, targetLength: last.op.targetLength + 4096 };
    if (op.kind === 'copy') op.sourceLength = op.targetLength;
    const bad = Buffer.concat([patch.subarray(0, last.at), encodeOp(op as OpRecord), patch.subarray(last.at + OP_RECORD_BYTES)]);
    await expectRefused(bad, 'past-target-end');
  });

  it('not an ops patch at all', async () => {
    await expectRefused(Buffer.concat([Buffer.from('BSDIFF40'), patch.subarray(8)]), 'bad-magic');
  });

  it('a patch made for another source: up front by digest, or per extent', async () => {
    const other = join(dir, 'other.img');
    const bytes = Buffer.from(readFileSync(oldImage));
    bytes[firstOf('copy').op.sourceOffset + 100] ^= 1; // same length, one byte that a COPY reads differs
    writeFileSync(other, bytes);
    const upFront = await expectRefused(patch, 'source-mismatch', { source: other });
    expect(upFront.message).toMatch(/has sha256 .* the patch was made from/);
    const perExtent = await expectRefused(patch, 'op-hash-mismatch', { source: other, sourceCheck: 'extent' });
    expect(perExtent.message).toMatch(/different source image/);
    writeFileSync(other, bytes.subarray(1));
    await expectRefused(patch, 'source-mismatch', { source: other });
    expect(existsSync(join(dir, 'other.img'))).toBe(true);
  });
});
