import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImagePair } from '../../support/image-pairs.mjs';
import {
  applyBsdiffPatch,
  compressFullImage,
  deltaSkipReason,
  generateBsdiffDelta,
  type CompressedImage,
  type DeltaProgress,
} from '../../../deltas/index.js';
import { generateReleaseArtifacts } from '../../support/release-artifacts.js';
import { parseManifest, type Manifest } from '../../../schemas/manifest.js';

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
/** Files in dir other than the given ones: leftovers from a failed job would show up here. */
const strays = (dir: string, expected: string[]) => readdirSync(dir).filter((f) => !expected.includes(f));

let dir: string;
let oldImage: string;
let newImage: string;
let full: CompressedImage;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ota-deltas-'));
  oldImage = join(dir, 'old.img');
  newImage = join(dir, 'new.img');
  // ~3 MB of real ELF binaries; the new image has rebuilt, added and removed binaries.
  buildImagePair({ oldPath: oldImage, newPath: newImage, targetBytes: 3 * 1024 * 1024, seed: 7 });
  full = await compressFullImage({ imagePath: newImage, outPath: join(dir, 'new.img.gz'), compression: 'gzip' });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('compressFullImage', () => {
  it('writes a gzip image whose digests match the bytes', async () => {
    expect(full.sha256).toBe(sha256(newImage));
    expect(full.length).toBe(readFileSync(newImage).length);
    expect(full.compressedSha256).toBe(sha256(full.path));
    expect(full.compressedLength).toBe(readFileSync(full.path).length);
    expect(full.compressedLength).toBeLessThan(full.length);
    expect(gunzipSync(readFileSync(full.path)).equals(readFileSync(newImage))).toBe(true);
    expect(full.peakRssBytes).toBeGreaterThan(10 * 1024 * 1024);
  });

  it("reports the child's own peak RSS, not the parent's", async () => {
    // getrusage maxRSS in a forked child starts at the parent's RSS; a big parent exposes that.
    const ballast = Buffer.alloc(384 * 1024 * 1024, 1);
    const small = await compressFullImage({ imagePath: oldImage, outPath: join(dir, 'ballast.gz'), compression: 'gzip', level: 1 });
    expect(ballast[ballast.length - 1]).toBe(1);
    expect(small.peakRssBytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(small.peakRssBytes).toBeLessThan(256 * 1024 * 1024);
    rmSync(small.path);
  });

  it('writes brotli too, reporting compressing progress', async () => {
    const events: DeltaProgress[] = [];
    const br = await compressFullImage({ imagePath: newImage, outPath: join(dir, 'new.img.br'), compression: 'brotli', level: 5, onProgress: (p) => events.push(p) });
    expect(brotliDecompressSync(readFileSync(br.path)).equals(readFileSync(newImage))).toBe(true);
    expect(br.compressedSha256).toBe(sha256(br.path));
    expect(events.every((e) => e.phase === 'compressing')).toBe(true);
    expect(events.at(-1)).toMatchObject({ bytesDone: br.length, bytesTotal: br.length });
    rmSync(br.path);
  });
});

describe('generateBsdiffDelta', () => {
  it('produces a verified delta that applies back to the exact target', async () => {
    const outPath = join(dir, 'real.bsdiff');
    const events: DeltaProgress[] = [];
    const delta = await generateBsdiffDelta({
      oldImagePath: oldImage,
      newImagePath: newImage,
      outPath,
      fullCompressedLength: full.compressedLength,
      progressIntervalMs: 100,
      onProgress: (p) => events.push(p),
    });
    expect(delta.status).toBe('generated');
    if (delta.status !== 'generated') return;
    expect(delta.fromSha256).toBe(sha256(oldImage));
    expect(delta.toSha256).toBe(sha256(newImage));
    expect(delta.sha256).toBe(sha256(outPath));
    expect(delta.length).toBe(readFileSync(outPath).length);
    expect(delta.length).toBeLessThan(0.9 * full.compressedLength);
    expect(delta.diff.peakRssBytes).toBeGreaterThan(0);
    expect(delta.verify.peakRssBytes).toBeGreaterThan(0);

    const rebuilt = join(dir, 'rebuilt.img');
    const applied = await applyBsdiffPatch(oldImage, outPath, rebuilt, { expectedSha256: delta.toSha256 });
    expect(sha256(rebuilt)).toBe(sha256(newImage));
    expect(applied.sha256).toBe(sha256(newImage));
    rmSync(rebuilt);

    // Progress: every phase shows up, bytes never exceed the total, reading covers both inputs.
    const phases = new Set(events.map((e) => e.phase));
    expect([...phases]).toEqual(expect.arrayContaining(['reading', 'diffing', 'hashing', 'verifying']));
    expect(events.every((e) => e.bytesDone <= e.bytesTotal && e.pid > 0)).toBe(true);
    const lastReading = events.filter((e) => e.phase === 'reading').at(-1)!;
    expect(lastReading.bytesDone).toBe(readFileSync(oldImage).length + readFileSync(newImage).length);
    expect(strays(dir, ['old.img', 'new.img', 'new.img.gz', 'real.bsdiff'])).toEqual([]);
    rmSync(outPath);
  });

  it('skips a delta between unrelated random images and leaves no file', async () => {
    // Random bytes defeat bsdiff: the patch ends up about as big as the data itself.
    const a = join(dir, 'rand-a.bin');
    const b = join(dir, 'rand-b.bin');
    writeFileSync(a, randomBytes(1024 * 1024));
    writeFileSync(b, randomBytes(1024 * 1024));
    const fullB = await compressFullImage({ imagePath: b, outPath: join(dir, 'rand-b.bin.gz'), compression: 'gzip' });
    const outPath = join(dir, 'rand.bsdiff');
    const delta = await generateBsdiffDelta({ oldImagePath: a, newImagePath: b, outPath, fullCompressedLength: fullB.compressedLength });
    expect(delta.status).toBe('skipped');
    expect(delta.status === 'skipped' && delta.reason).toMatch(/of the compressed full image .*; must be < 90%/);
    expect(delta.ratio).toBeGreaterThanOrEqual(0.9);
    expect(existsSync(outPath)).toBe(false);
    // A looser ratio would have accepted the same delta.
    expect(deltaSkipReason(delta.length, fullB.compressedLength, delta.ratio + 0.01)).toBeUndefined();
    for (const f of [a, b, fullB.path]) rmSync(f);
  });

  it('abort kills the child mid-diff and leaves no output', async () => {
    const outPath = join(dir, 'aborted.bsdiff');
    const controller = new AbortController();
    let pid = 0;
    const run = generateBsdiffDelta({
      oldImagePath: oldImage,
      newImagePath: newImage,
      outPath,
      fullCompressedLength: full.compressedLength,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.phase === 'diffing' && !pid) {
          pid = p.pid;
          controller.abort();
        }
      },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(pid).toBeGreaterThan(0);
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(outPath)).toBe(false);
    expect(strays(dir, ['old.img', 'new.img', 'new.img.gz'])).toEqual([]);
  });

  it('a child that dies midway is an error and leaves no output', async () => {
    const outPath = join(dir, 'crashed.bsdiff');
    let killed = false;
    const run = generateBsdiffDelta({
      oldImagePath: oldImage,
      newImagePath: newImage,
      outPath,
      fullCompressedLength: full.compressedLength,
      onProgress: (p) => {
        // Simulates an OOM kill during the diff.
        if (p.phase === 'diffing' && !killed) {
          killed = true;
          process.kill(p.pid, 'SIGKILL');
        }
      },
    });
    await expect(run).rejects.toThrow(/diff child was killed by SIGKILL before finishing/);
    expect(existsSync(outPath)).toBe(false);
    expect(strays(dir, ['old.img', 'new.img', 'new.img.gz'])).toEqual([]);
  });

  it('rejects inputs that do not match the expected digests or do not exist', async () => {
    const outPath = join(dir, 'wrong.bsdiff');
    const common = { newImagePath: newImage, outPath, fullCompressedLength: full.compressedLength };
    await expect(generateBsdiffDelta({ ...common, oldImagePath: oldImage, oldSha256: full.sha256 })).rejects.toThrow(/old image .* has sha256 .*, expected/);
    await expect(generateBsdiffDelta({ ...common, oldImagePath: join(dir, 'missing.img') })).rejects.toThrow(/missing\.img/);
    expect(existsSync(outPath)).toBe(false);
  });
});

describe('applyBsdiffPatch', () => {
  let patch: string;
  beforeAll(async () => {
    patch = join(dir, 'good.bsdiff');
    await generateBsdiffDelta({ oldImagePath: oldImage, newImagePath: newImage, outPath: patch, fullCompressedLength: full.compressedLength });
  });

  const corrupt = (name: string, mutate: (bytes: Buffer) => Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, mutate(Buffer.from(readFileSync(patch))));
    return path;
  };

  it('rejects a file that is not a bsdiff patch', async () => {
    const bad = corrupt('garbage.bsdiff', () => randomBytes(4096));
    const out = join(dir, 'out-garbage.img');
    await expect(applyBsdiffPatch(oldImage, bad, out)).rejects.toThrow(/corrupt bsdiff patch .*garbage\.bsdiff: missing BSDIFF40 header/);
    expect(existsSync(out)).toBe(false);
  });

  it('rejects a truncated patch', async () => {
    // Cut inside the control block: the header's lengths cannot fit (half the file may still hold them).
    const bad = corrupt('truncated.bsdiff', (b) => b.subarray(0, 40));
    await expect(applyBsdiffPatch(oldImage, bad, join(dir, 'out-trunc.img'))).rejects.toThrow(/corrupt bsdiff patch .*header lengths do not fit/);
  });

  it('rejects a patch with damaged compressed blocks', async () => {
    const bad = corrupt('flipped.bsdiff', (b) => {
      for (let i = 40; i < b.length; i += 97) b[i]! ^= 0x5a;
      return b;
    });
    const out = join(dir, 'out-flipped.img');
    await expect(applyBsdiffPatch(oldImage, bad, out, { expectedSha256: sha256(newImage) })).rejects.toThrow(/corrupt bsdiff patch|expected/);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a patch that declares an output over the limit', async () => {
    await expect(applyBsdiffPatch(oldImage, patch, join(dir, 'out-big.img'), { maxOutputBytes: 1024 })).rejects.toThrow(/over the 1024-byte limit/);
  });

  it('rejects a result with the wrong digest and leaves no output', async () => {
    const out = join(dir, 'out-wrong-base.img');
    // Right patch, wrong base image: bspatch "succeeds" but the digest exposes it.
    await expect(applyBsdiffPatch(newImage, patch, out, { expectedSha256: sha256(newImage) })).rejects.toThrow(/gives sha256 .*, expected/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('generateReleaseArtifacts', () => {
  it('produces manifest-ready image, deltas and skipped deltas', async () => {
    const unrelated = join(dir, 'unrelated.img');
    writeFileSync(unrelated, randomBytes(512 * 1024));
    const outDir = join(dir, 'release');
    const phasesByVersion = new Map<string, Set<string>>();
    const art = await generateReleaseArtifacts({
      newImagePath: newImage,
      outDir,
      previous: [
        { version: '1.0.0', imagePath: oldImage, sha256: sha256(oldImage) },
        { version: '0.9.0', imagePath: unrelated },
      ],
      // An unrelated base still yields a patch about the size of bzip2(new image), which can beat
      // gzip by ~10%; 0.5 separates it from a real delta (~1% here) on any machine.
      maxRatio: 0.5,
      onProgress: (p) => {
        const key = p.fromVersion ?? 'full';
        phasesByVersion.set(key, (phasesByVersion.get(key) ?? new Set()).add(p.phase));
      },
    });
    expect(art.deltas.map((d) => d.fromVersion)).toEqual(['1.0.0']);
    expect(art.skippedDeltas).toEqual([{ format: 'bsdiff', fromVersion: '0.9.0', reason: expect.stringMatching(/must be < 50%/) }]);
    expect([...phasesByVersion.keys()].sort()).toEqual(['0.9.0', '1.0.0', 'full']);
    expect(readdirSync(outDir).sort()).toEqual(['delta-1.0.0.bsdiff', 'image.bin.gz']);

    const ref = (name: string) => ({ location: `releases/gw/1.1.0/${name}`, sha256: createHash('sha256').update(name).digest('hex') });
    const manifest: Manifest = {
      schemaVersion: 1,
      hardwareId: 'gw',
      version: '1.1.0',
      securityVersion: 1,
      channel: 'stable',
      created: '2026-01-01T00:00:00Z',
      expires: '2026-07-01T00:00:00Z',
      image: {
        sha256: art.image.sha256,
        length: art.image.length,
        location: 'releases/gw/1.1.0/image.bin.gz',
        compression: 'gzip',
        compressedSha256: art.image.compressedSha256,
        compressedLength: art.image.compressedLength,
      },
      imageSignatureBundle: ref('image.sigstore.json'),
      deltas: art.deltas.map(({ path: _p, diff: _d, verify: _v, ...d }) => ({ ...d, location: `releases/gw/1.1.0/delta-${d.fromVersion}.bsdiff` })),
      skippedDeltas: art.skippedDeltas,
      sbom: ref('sbom.cdx.json'),
      vex: ref('vex.cdx.json'),
      openvex: ref('openvex.json'),
      provenance: ref('provenance.json'),
    };
    expect(parseManifest(JSON.stringify(manifest)).deltas[0]!.toSha256).toBe(sha256(newImage));
    rmSync(unrelated);
    rmSync(outDir, { recursive: true });
  });
});
