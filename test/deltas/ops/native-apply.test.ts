// The native ops applier (native/ota-apply-ops, built into .tools/bin by tools/setup.mjs) against
// the TypeScript one, on patches from the real generator: byte-identical output, the same error
// code for every bad input (and nothing left behind), checkpoints that resume across the two
// appliers, and a peak RSS under issue 7's 32 MB on a ~64 MB pair. Real binary, no mocks.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImagePair } from '../../support/image-pairs.mjs';
import {
  applyOpsDelta,
  applyOpsDeltaNative,
  applyOpsDeltaWith,
  encodeOp,
  findNativeApplier,
  generateOpsDelta,
  HEADER_BYTES,
  OP_RECORD_BYTES,
  partialPathFor,
  TRAILER_BYTES,
  type OpRecord,
  type OpsApplyCheckpoint,
} from '../../../deltas/ops/index.js';
import { projectRoot } from '../../../platform/paths.js';
import { ensureDist, OTA_BIN } from '../../support/dist.js';
import { opLayout, type OpLayout } from '../../support/ops-patch.js';

const MiB = 1024 * 1024;
const sha256 = (buf: Buffer) => createHash('sha256').update(buf).digest('hex');
const sha256File = (path: string) => sha256(readFileSync(path));

let dir: string;
let binary: string;

beforeAll(() => {
  const found = findNativeApplier();
  if (!found) throw new Error('ota-apply-ops not found: run `node tools/setup.mjs --for test` (needs Go)');
  binary = found;
  dir = mkdtempSync(join(tmpdir(), 'ota-delta-ops-native-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Pair {
  old: string;
  new: string;
  patch: string;
}

async function makePair(name: string, targetBytes: number, seed: number, maxOpBytes: number, extend?: (target: string) => void): Promise<Pair> {
  const d = join(dir, name);
  rmSync(d, { recursive: true, force: true });
  const pair = { old: join(d, 'old.img'), new: join(d, 'new.img'), patch: join(d, 'p.ops') };
  mkdirSync(d, { recursive: true });
  buildImagePair({ oldPath: pair.old, newPath: pair.new, targetBytes, seed });
  extend?.(pair.new);
  await generateOpsDelta({ sourcePath: pair.old, targetPath: pair.new, outPath: pair.patch, maxOpBytes });
  return pair;
}

/** Runs the binary itself (the CLI contract), collecting its JSON lines. */
function runBinary(args: string[], onLine?: (event: Record<string, unknown>, child: ReturnType<typeof spawn>) => void) {
  const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const events: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const event = JSON.parse(line) as Record<string, unknown>;
    events.push(event);
    onLine?.(event, child);
  });
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; events: Record<string, unknown>[]; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, events, stderr })),
  );
}

describe('native applier output', () => {
  it('is byte-identical to the target for COPY, BSDIFF, REPLACE (brotli and raw) and ZERO ops', async () => {
    // Random bytes (a raw REPLACE) and a zero run appended to the target.
    const pair = await makePair('kinds', 6 * MiB, 7, 256 * 1024, (target) => {
      const random = Buffer.concat(Array.from({ length: 2048 }, (_, i) => createHash('sha256').update(`block ${i}`).digest()));
      appendFileSync(target, Buffer.concat([random, Buffer.alloc(256 * 1024)]));
    });
    const patch = readFileSync(pair.patch);
    const kinds = new Set<string>();
    const codecs = new Set<string>();
    for (const { op } of opLayout(patch)) {
      kinds.add(op.kind);
      if (op.kind === 'replace') codecs.add(op.codec);
    }
    expect([...kinds].sort()).toEqual(['bsdiff', 'copy', 'replace', 'zero']);
    expect(codecs.has('brotli')).toBe(true);

    for (const sourceCheck of ['full', 'extent'] as const) {
      const out = join(dir, 'kinds', `out-${sourceCheck}.img`);
      const progress: number[] = [];
      const r = await applyOpsDeltaNative({ sourcePath: pair.old, patchPath: pair.patch, outPath: out, sourceCheck, onProgress: (p) => progress.push(p.opIndex) });
      expect(sha256File(out)).toBe(sha256File(pair.new));
      expect(r).toMatchObject({ path: out, sha256: sha256File(pair.new), length: readFileSync(pair.new).length, resumedFromOp: 0 });
      expect(progress.at(-1)).toBe(r.opCount);
      expect(r.peakRssBytes).toBeGreaterThan(0);
      expect(existsSync(partialPathFor(out))).toBe(false);
    }
    // The CLI contract: JSON lines, `done` last.
    const run = await runBinary(['--source', pair.old, '--patch', pair.patch, '--out', join(dir, 'kinds', 'cli.img')]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.events.at(-1)).toMatchObject({ event: 'done', sha256: sha256File(pair.new), opCount: expect.any(Number), peakRssBytes: expect.any(Number) });
    expect(sha256File(join(dir, 'kinds', 'cli.img'))).toBe(sha256File(pair.new));
    // Usage errors exit 2.
    expect((await runBinary(['--source', pair.old])).code).toBe(2);
  }, 120_000);
});

describe('native applier on bad input: the same error code as applyOpsDelta, nothing left behind', () => {
  let pair: Pair;
  let patch: Buffer;
  let layout: OpLayout[];
  beforeAll(async () => {
    pair = await makePair('bad', 3 * MiB, 21, 4 * MiB);
    patch = readFileSync(pair.patch);
    layout = opLayout(patch);
  }, 120_000);

  const firstOf = (kind: OpRecord['kind']) => {
    const entry = layout.find((l) => l.op.kind === kind);
    if (!entry) throw new Error(`the test patch has no ${kind} op`);
    return entry;
  };
  const withByte = (at: number, xor: number) => {
    const bad = Buffer.from(patch);
    bad[at]! ^= xor;
    return bad;
  };

  /** Applies `bad` with both appliers over an existing output: same code, output and folder untouched. */
  async function expectSameRefusal(name: string, bad: Buffer, options: { source?: string; sourceCheck?: 'full' | 'extent'; code?: string } = {}) {
    const codes: string[] = [];
    for (const applier of ['node', 'native'] as const) {
      const work = mkdtempSync(join(dir, `case-${applier}-`));
      const patchPath = join(work, 'bad.ops');
      writeFileSync(patchPath, bad);
      const out = join(work, 'slot-b.img');
      writeFileSync(out, 'previous contents');
      const err = await applyOpsDeltaWith(applier, { sourcePath: options.source ?? pair.old, patchPath, outPath: out, sourceCheck: options.sourceCheck }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, `${name} (${applier})`).toMatchObject({ name: 'OpsDeltaError' });
      codes.push((err as { code: string }).code);
      expect(readFileSync(out, 'utf8')).toBe('previous contents');
      expect(readdirSync(work).sort(), `${name} (${applier})`).toEqual(['bad.ops', 'slot-b.img']);
      rmSync(work, { recursive: true });
    }
    expect(codes[1], name).toBe(codes[0]);
    if (options.code) expect(codes[0], name).toBe(options.code);
  }

  it('every case of delta-ops-bad-input, and a few more', async () => {
    const bsdiff = firstOf('bsdiff');
    for (const length of [100, HEADER_BYTES + 40, bsdiff.at + OP_RECORD_BYTES + 10, patch.length - TRAILER_BYTES, patch.length - 1]) {
      await expectSameRefusal(`cut at ${length}`, patch.subarray(0, length), { code: 'truncated' });
    }
    const [a, b] = [layout[0]!, layout[1]!];
    await expectSameRefusal('reordered', Buffer.concat([patch.subarray(0, a.at), patch.subarray(b.at, b.end), patch.subarray(a.at, a.end), patch.subarray(b.end)]), { code: 'out-of-order' });
    await expectSameRefusal('dropped', Buffer.concat([patch.subarray(0, b.at), patch.subarray(b.end)]), { code: 'out-of-order' });
    await expectSameRefusal('op sha256', withByte(firstOf('copy').at + 48, 0xff), { code: 'op-hash-mismatch' });
    await expectSameRefusal('bsdiff payload', withByte(bsdiff.at + OP_RECORD_BYTES + Math.floor(bsdiff.op.payloadLength / 2), 0x55));
    const otherSize = Buffer.from(patch);
    otherSize.writeBigUInt64LE(BigInt(bsdiff.op.targetLength + 1), bsdiff.at + OP_RECORD_BYTES + 24);
    await expectSameRefusal('bsdiff new size', otherSize, { code: 'corrupt-payload' });
    const blocks = Buffer.from(patch);
    blocks.writeBigUInt64LE(BigInt(bsdiff.op.payloadLength), bsdiff.at + OP_RECORD_BYTES + 8);
    await expectSameRefusal('bsdiff block lengths', blocks, { code: 'corrupt-payload' });
    await expectSameRefusal('bsdiff magic', withByte(bsdiff.at + OP_RECORD_BYTES, 1), { code: 'corrupt-payload' });
    await expectSameRefusal('trailer digest', withByte(patch.length - 1, 1), { code: 'patch-digest-mismatch' });
    await expectSameRefusal('trailing data', Buffer.concat([patch, Buffer.from('x')]), { code: 'trailing-data' });
    await expectSameRefusal('header target sha256', withByte(64, 0xff), { code: 'patch-digest-mismatch' });
    const last = layout.at(-1)!;
    const longer = { ...last.op, targetLength: last.op.targetLength + 4096 };
    if (longer.kind === 'copy') longer.sourceLength = longer.targetLength;
    await expectSameRefusal('past target end', Buffer.concat([patch.subarray(0, last.at), encodeOp(longer as OpRecord), patch.subarray(last.at + OP_RECORD_BYTES)]), { code: 'past-target-end' });
    await expectSameRefusal('bad magic', Buffer.concat([Buffer.from('BSDIFF40'), patch.subarray(8)]), { code: 'bad-magic' });
    await expectSameRefusal('version 2', withByte(8, 3), { code: 'unsupported-version' });
    await expectSameRefusal('header reserved', withByte(120, 1), { code: 'malformed' });
    await expectSameRefusal('unknown op kind', withByte(a.at, 0x40), { code: 'malformed' });
    await expectSameRefusal('op reserved', withByte(a.at + 2, 1), { code: 'malformed' });
    await expectSameRefusal('trailer magic', withByte(patch.length - TRAILER_BYTES, 1), { code: 'malformed' });
    const replace = layout.find((l) => l.op.kind === 'replace' && l.op.codec === 'brotli');
    if (replace) await expectSameRefusal('brotli payload', withByte(replace.at + OP_RECORD_BYTES + Math.floor(replace.op.payloadLength / 2), 0x55));
    // Another source: up front by digest, per extent, or another length.
    const other = join(dir, 'bad', 'other.img');
    const bytes = Buffer.from(readFileSync(pair.old));
    bytes[firstOf('copy').op.sourceOffset + 100]! ^= 1;
    writeFileSync(other, bytes);
    await expectSameRefusal('source digest', patch, { source: other, code: 'source-mismatch' });
    await expectSameRefusal('source extent', patch, { source: other, sourceCheck: 'extent', code: 'op-hash-mismatch' });
    writeFileSync(other, bytes.subarray(1));
    await expectSameRefusal('source length', patch, { source: other, code: 'source-mismatch' });
  }, 120_000);
});

describe('checkpoints resume across the appliers', () => {
  let pair: Pair;
  beforeAll(async () => {
    pair = await makePair('resume', 6 * MiB, 31, 256 * 1024);
  }, 120_000);

  /** Runs the binary with --ack and stops it at its second checkpoint: by closing stdin, or SIGKILL. */
  async function interruptedNative(out: string, how: 'close-stdin' | 'sigkill'): Promise<OpsApplyCheckpoint> {
    const seen: OpsApplyCheckpoint[] = [];
    const run = await runBinary(['--source', pair.old, '--patch', pair.patch, '--out', out, '--checkpoint-bytes', String(512 * 1024), '--ack'], (event, child) => {
      if (event.event !== 'checkpoint') return;
      seen.push(event.checkpoint as OpsApplyCheckpoint);
      if (seen.length < 2) child.stdin!.write('\n');
      else if (how === 'close-stdin') child.stdin!.end();
      else child.kill('SIGKILL');
    });
    if (how === 'close-stdin') expect(run.code, run.stderr).toBe(3);
    else expect(run.signal).toBe('SIGKILL');
    expect(seen.length).toBe(2);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(partialPathFor(out))).toBe(true);
    return seen[1]!;
  }

  it('a native checkpoint (stdin closed while it waits for the ack) resumes in the TypeScript applier', async () => {
    const out = join(dir, 'resume', 'native-to-node.img');
    const checkpoint = await interruptedNative(out, 'close-stdin');
    const r = await applyOpsDelta({ sourcePath: pair.old, patchPath: pair.patch, outPath: out, resumeFrom: checkpoint });
    expect(r.resumedFromOp).toBe(checkpoint.opIndex);
    expect(sha256File(out)).toBe(sha256File(pair.new));
  });

  it('a native checkpoint (SIGKILL) resumes in the native applier', async () => {
    const out = join(dir, 'resume', 'native-to-native.img');
    const checkpoint = await interruptedNative(out, 'sigkill');
    const r = await applyOpsDeltaNative({ sourcePath: pair.old, patchPath: pair.patch, outPath: out, resumeFrom: checkpoint });
    expect(r.resumedFromOp).toBe(checkpoint.opIndex);
    expect(sha256File(out)).toBe(sha256File(pair.new));
  });

  it('a TypeScript checkpoint resumes in the native applier, and an aborted native apply keeps its partial file', async () => {
    const out = join(dir, 'resume', 'node-to-native.img');
    const controller = new AbortController();
    let first: OpsApplyCheckpoint | undefined;
    const aborted = await applyOpsDelta({
      sourcePath: pair.old,
      patchPath: pair.patch,
      outPath: out,
      checkpointBytes: 512 * 1024,
      onCheckpoint: (c) => {
        first = c;
        controller.abort();
      },
      signal: controller.signal,
    }).catch((e: unknown) => e);
    expect(aborted).toMatchObject({ name: 'AbortError' });

    // The native applier resumes it, records its own checkpoints (acknowledged), and is aborted in turn.
    const again = new AbortController();
    const native: OpsApplyCheckpoint[] = [];
    const stopped = await applyOpsDeltaNative({
      sourcePath: pair.old,
      patchPath: pair.patch,
      outPath: out,
      resumeFrom: first,
      checkpointBytes: 512 * 1024,
      onCheckpoint: async (c) => {
        native.push(c);
        if (native.length === 2) again.abort();
      },
      signal: again.signal,
    }).catch((e: unknown) => e);
    expect(stopped).toMatchObject({ name: 'AbortError' });
    expect(native[0]!.opIndex).toBeGreaterThan(first!.opIndex);
    expect(existsSync(partialPathFor(out))).toBe(true);

    const r = await applyOpsDelta({ sourcePath: pair.old, patchPath: pair.patch, outPath: out, resumeFrom: native[1] });
    expect(r.resumedFromOp).toBe(native[1]!.opIndex);
    expect(sha256File(out)).toBe(sha256File(pair.new));
  });

  it('refuses a checkpoint whose partial output is gone, or that belongs to another patch (bad-resume)', async () => {
    const out = join(dir, 'resume', 'gone.img');
    const checkpoint = await interruptedNative(out, 'sigkill');
    rmSync(partialPathFor(out));
    await expect(applyOpsDeltaNative({ sourcePath: pair.old, patchPath: pair.patch, outPath: out, resumeFrom: checkpoint })).rejects.toMatchObject({ code: 'bad-resume' });
    const otherHeader = Buffer.from(checkpoint.header, 'base64');
    otherHeader[64]! ^= 1;
    await expect(applyOpsDeltaNative({ sourcePath: pair.old, patchPath: pair.patch, outPath: out, resumeFrom: { ...checkpoint, header: otherHeader.toString('base64') } })).rejects.toMatchObject({
      code: 'bad-resume',
    });
  });
});

describe('native applier memory', () => {
  it('peak RSS stays under 32 MiB on a ~64 MB pair', async () => {
    const pair = await makePair('mem', 64 * MiB, 41, 4 * MiB);
    const out = join(dir, 'mem', 'out.img');
    const r = await applyOpsDeltaNative({ sourcePath: pair.old, patchPath: pair.patch, outPath: out, checkpointBytes: 16 * MiB, onCheckpoint: () => undefined });
    expect(sha256File(out)).toBe(sha256File(pair.new));
    expect(r.peakRssBytes).toBeGreaterThan(0);
    expect(r.peakRssBytes).toBeLessThan(32 * MiB);
    rmSync(join(dir, 'mem'), { recursive: true, force: true });
  }, 300_000);
});

describe('ota delta apply --applier', () => {
  it('says which applier ran and its peak RSS (--json)', async (ctx) => {
    const skipReason = await ensureDist();
    if (skipReason) ctx.skip();
    const pair = await makePair('cli', 2 * MiB, 51, 256 * 1024);
    for (const applier of ['native', 'node', 'auto'] as const) {
      const out = join(dir, 'cli', `${applier}.img`);
      const { stdout } = await promisify(execFile)(process.execPath, [OTA_BIN, 'delta', 'apply', '--from', pair.old, '--patch', pair.patch, '--out', out, '--applier', applier, '--json'], { cwd: projectRoot });
      const result = JSON.parse(stdout) as { applier: string; out: { sha256: string }; peakRssBytes: { process: number; applier: number } };
      expect(result.applier).toBe(applier === 'node' ? 'node' : 'native');
      expect(result.out.sha256).toBe(sha256File(pair.new));
      expect(sha256File(out)).toBe(sha256File(pair.new));
      expect(result.peakRssBytes.applier).toBeGreaterThan(0);
      if (result.applier === 'native') expect(result.peakRssBytes.applier).toBeLessThan(32 * MiB);
    }
  }, 120_000);
});
