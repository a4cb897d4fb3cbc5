// Ops delta format: generation and streaming apply on real ELF-based images, raw and tar-aware.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImagePair, buildTarImagePair } from '../../support/image-pairs.mjs';
import {
  applyOpsDelta,
  decodeHeader,
  decodeOp,
  decodeTrailer,
  encodeHeader,
  encodeOp,
  encodeTrailer,
  generateOpsDelta,
  HEADER_BYTES,
  OpsDeltaError,
  planOps,
  TRAILER_BYTES,
  type OpRecord,
  type OpsGenerateProgress,
} from '../../../deltas/ops/index.js';
import { opLayout } from '../../support/ops-patch.js';

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Walks a patch file and returns its op records (and checks the framing adds up). */
function opsOf(patchPath: string): OpRecord[] {
  const buf = readFileSync(patchPath);
  const layout = opLayout(buf);
  const ops = layout.map((l) => l.op);
  const pos = layout.at(-1)?.end ?? HEADER_BYTES;
  expect(decodeTrailer(buf.subarray(pos, pos + TRAILER_BYTES)).opCount).toBe(decodeHeader(buf).opCount);
  expect(pos + TRAILER_BYTES).toBe(buf.length);
  return ops;
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ota-delta-ops-'));
  // ~4 MB of real ELF binaries; rebuilt, added and removed binaries; unaligned changes inside.
  buildImagePair({ oldPath: join(dir, 'old.img'), newPath: join(dir, 'new.img'), targetBytes: 4 * 1024 * 1024, seed: 11 });
  buildTarImagePair({ oldPath: join(dir, 'old.tar'), newPath: join(dir, 'new.tar'), targetBytes: 3 * 1024 * 1024, seed: 5 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('format', () => {
  it('encodes and decodes header, op records and trailer', () => {
    const header = {
      version: 1 as const,
      flags: 0 as const,
      blockSize: 4096,
      sourceLength: 2 ** 40,
      targetLength: 12345,
      sourceSha256: 'a'.repeat(64),
      targetSha256: 'b'.repeat(64),
      opCount: 3,
      maxOpTargetLength: 4 << 20,
      maxSourceExtentLength: 8 << 20,
    };
    expect(decodeHeader(encodeHeader(header))).toEqual(header);
    const op: OpRecord = { kind: 'bsdiff', index: 2, targetOffset: 4096, targetLength: 100, sourceOffset: 2 ** 33, sourceLength: 5000, payloadLength: 77, codec: 'none', sha256: 'c'.repeat(64) };
    expect(decodeOp(encodeOp(op))).toEqual(op);
    expect(decodeTrailer(encodeTrailer({ opCount: 3, patchDigest: 'd'.repeat(64) }))).toEqual({ opCount: 3, patchDigest: 'd'.repeat(64) });
  });

  it('refuses records the schema does not allow', () => {
    const copyWithPayload = encodeOp({ kind: 'copy', index: 0, targetOffset: 0, targetLength: 10, sourceOffset: 0, sourceLength: 10, payloadLength: 0, codec: 'none', sha256: 'e'.repeat(64) });
    copyWithPayload.writeBigUInt64LE(5n, 40);
    expect(() => decodeOp(copyWithPayload)).toThrow(OpsDeltaError);
    const unknownKind = Buffer.from(copyWithPayload);
    unknownKind[0] = 9;
    expect(() => decodeOp(unknownKind)).toThrow(/unknown kind 9/);
    const newer = encodeHeader({ version: 1, flags: 0, blockSize: 4096, sourceLength: 1, targetLength: 1, sourceSha256: 'a'.repeat(64), targetSha256: 'b'.repeat(64), opCount: 1, maxOpTargetLength: 1, maxSourceExtentLength: 0 });
    newer.writeUInt16LE(2, 8);
    expect(() => decodeHeader(newer)).toThrow(expect.objectContaining({ code: 'unsupported-version' }));
  });
});

describe('planOps', () => {
  it('covers the target in order and maps an unmatched region onto the source between its neighbours', () => {
    // target: [0,100k) copied from source 0; [100k,150k) new; [150k,250k) copied from source 120k.
    const ops = planOps({ targetLength: 250_000, sourceLength: 220_000, matches: [150_000, 120_000, 100_000, 0, 0, 100_000], zeros: [], maxOpBytes: 1 << 20 });
    expect(ops.map((o) => o.kind)).toEqual(['copy', 'diff', 'copy']);
    let pos = 0;
    for (const op of ops) {
      expect(op.targetOffset).toBe(pos);
      pos += op.targetLength;
    }
    expect(pos).toBe(250_000);
    const diff = ops[1]!;
    if (diff.kind !== 'diff') throw new Error('expected a diff op');
    // The old region [100k, 120k) (plus margin) is inside the window.
    expect(diff.sourceOffset).toBeLessThanOrEqual(100_000);
    expect(diff.sourceOffset + diff.sourceLength).toBeGreaterThanOrEqual(120_000);
  });

  it('stores pure insertions (nothing between the neighbours in the source)', () => {
    const ops = planOps({ targetLength: 300_000, sourceLength: 200_000, matches: [0, 0, 100_000, 200_000, 100_000, 100_000], zeros: [], maxOpBytes: 1 << 20 });
    expect(ops.map((o) => o.kind)).toEqual(['copy', 'replace', 'copy']);
  });
});

describe('generateOpsDelta + applyOpsDelta', () => {
  it('round-trips a raw image pair and reports what it did', async () => {
    const events: OpsGenerateProgress[] = [];
    const patch = join(dir, 'raw.ops');
    const g = await generateOpsDelta({ sourcePath: join(dir, 'old.img'), targetPath: join(dir, 'new.img'), outPath: patch, workers: 2, onProgress: (p) => events.push(p) });
    expect(g.sha256).toBe(sha256(patch));
    expect(g.length).toBe(readFileSync(patch).length);
    expect(g.sourceSha256).toBe(sha256(join(dir, 'old.img')));
    expect(g.targetSha256).toBe(sha256(join(dir, 'new.img')));
    expect(g.tarAligned).toBe(false);
    expect(g.ops.copy.count).toBeGreaterThan(0);
    expect(g.ops.bsdiff.count).toBeGreaterThan(0);
    expect(g.length).toBeLessThan(g.targetLength / 10);
    expect(g.peakRssBytes.workers).toHaveLength(2);
    expect(g.peakRssBytes.workers.every((n) => n > 10 * 1024 * 1024)).toBe(true);
    expect([...new Set(events.map((e) => e.phase))]).toEqual(['hashing', 'scanning', 'writing']);
    expect(events.at(-1)).toMatchObject({ phase: 'writing', bytesDone: g.targetLength, opsDone: g.opCount, opsTotal: g.opCount });

    const ops = opsOf(patch);
    expect(ops.map((o) => o.index)).toEqual(ops.map((_, i) => i));
    const out = join(dir, 'raw.out');
    const a = await applyOpsDelta({ sourcePath: join(dir, 'old.img'), patchPath: patch, outPath: out });
    expect(sha256(out)).toBe(g.targetSha256);
    expect(a).toMatchObject({ sha256: g.targetSha256, length: g.targetLength, opCount: g.opCount, resumedFromOp: 0 });
    expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('writes the same bytes whatever the number of workers', async () => {
    const one = join(dir, 'one.ops');
    const three = join(dir, 'three.ops');
    await generateOpsDelta({ sourcePath: join(dir, 'old.img'), targetPath: join(dir, 'new.img'), outPath: one, workers: 1 });
    await generateOpsDelta({ sourcePath: join(dir, 'old.img'), targetPath: join(dir, 'new.img'), outPath: three, workers: 3, segmentBytes: 1 << 20 });
    expect(sha256(one)).toBe(sha256(three));
  });

  it('diffs each tar member against the same path in the old image', async () => {
    const aligned = await generateOpsDelta({ sourcePath: join(dir, 'old.tar'), targetPath: join(dir, 'new.tar'), outPath: join(dir, 'tar.ops') });
    const positional = await generateOpsDelta({ sourcePath: join(dir, 'old.tar'), targetPath: join(dir, 'new.tar'), outPath: join(dir, 'tar-off.ops'), tar: 'off' });
    expect(aligned.tarAligned).toBe(true);
    expect(positional.tarAligned).toBe(false);
    // Members were reordered: only the path mapping finds each rebuilt binary's old version.
    expect(aligned.length).toBeLessThan(positional.length / 2);
    for (const patch of ['tar.ops', 'tar-off.ops']) {
      const out = join(dir, `${patch}.out`);
      await applyOpsDelta({ sourcePath: join(dir, 'old.tar'), patchPath: join(dir, patch), outPath: out });
      expect(sha256(out)).toBe(aligned.targetSha256);
    }
  });

  it('uses ZERO ops for zero runs and REPLACE for bytes the source does not have', async () => {
    const target = join(dir, 'zeros.img');
    const tail = Buffer.alloc(3 * 1024 * 1024 + 123);
    writeFileSync(target, Buffer.concat([readFileSync(join(dir, 'new.img')), tail, Buffer.from('fresh bytes no source has '.repeat(40))]));
    const patch = join(dir, 'zeros.ops');
    const g = await generateOpsDelta({ sourcePath: join(dir, 'old.img'), targetPath: target, outPath: patch });
    expect(g.ops.zero.bytes).toBeGreaterThanOrEqual(3 * 1024 * 1024);
    expect(g.ops.replace.count).toBeGreaterThan(0);
    const out = join(dir, 'zeros.out');
    await applyOpsDelta({ sourcePath: join(dir, 'old.img'), patchPath: patch, outPath: out, sourceCheck: 'extent' });
    expect(sha256(out)).toBe(sha256(target));
  });

  it('reads the patch from any stream (openPatch), e.g. a download', async () => {
    const patch = join(dir, 'raw.ops');
    copyFileSync(patch, join(dir, 'stream.ops'));
    const bytes = readFileSync(join(dir, 'stream.ops'));
    async function* slowly(start: number) {
      // odd-sized chunks: records and payloads straddle chunk borders
      for (let pos = start; pos < bytes.length; pos += 777) yield bytes.subarray(pos, pos + 777);
    }
    const out = join(dir, 'stream.out');
    await applyOpsDelta({ sourcePath: join(dir, 'old.img'), openPatch: slowly, outPath: out });
    expect(sha256(out)).toBe(sha256(join(dir, 'new.img')));
  });
});
