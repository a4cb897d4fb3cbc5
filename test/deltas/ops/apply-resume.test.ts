// Ops delta apply after a power cut: the `ota delta apply --state` process is SIGKILLed mid-patch
// (it reads the patch from a FIFO that stops halfway, so the kill always lands mid-apply), then a
// second run resumes from the recorded checkpoint. Also: an aborted in-process apply resumes, and
// apply memory does not grow with the image (a 32 MB vs a 4 MB pair, each in its own process).
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImagePair } from '../../support/image-pairs.mjs';
import { applyOpsDelta, generateOpsDelta, HEADER_BYTES, partialPathFor, type OpsApplyCheckpoint } from '../../../deltas/ops/index.js';
import { projectRoot } from '../../../platform/paths.js';
import { opLayout } from '../../support/ops-patch.js';
import { ensureDist, OTA_BIN } from '../../support/dist.js';

const run = promisify(execFile);
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = 1024 * 1024;

let dir: string;
let skipReason: string | undefined;
beforeAll(async () => {
  skipReason = await ensureDist();
  if (skipReason) console.error(`\n*** SKIPPING ota delta CLI resume and memory tests: ${skipReason} ***\n`);
  dir = mkdtempSync(join(tmpdir(), 'ota-delta-ops-resume-'));
  buildImagePair({ oldPath: join(dir, 'old.img'), newPath: join(dir, 'new.img'), targetBytes: 6 * MiB, seed: 31 });
  await generateOpsDelta({ sourcePath: join(dir, 'old.img'), targetPath: join(dir, 'new.img'), outPath: join(dir, 'p.ops'), maxOpBytes: 256 * 1024 });
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Offset of the middle op's record: a FIFO fed up to here stalls the applier mid-patch. */
function middleOfPatch(patch: Buffer): number {
  const layout = opLayout(patch);
  return (layout[Math.floor(layout.length / 2)]?.at ?? HEADER_BYTES) + 40;
}

describe('resume after a power cut', () => {
  it('ota delta apply --state: SIGKILLed mid-patch, the next run resumes from the checkpoint', async (ctx) => {
    if (skipReason) ctx.skip();
    const patch = readFileSync(join(dir, 'p.ops'));
    const fifo = join(dir, 'download.fifo');
    execFileSync('mkfifo', [fifo]);
    const out = join(dir, 'slot-b.img');
    const state = join(dir, 'install-state.json');
    const args = ['delta', 'apply', '--from', join(dir, 'old.img'), '--out', out, '--state', state, '--checkpoint-mib', '0.25', '--json'];
    const child = spawn(process.execPath, [OTA_BIN, ...args, '--patch', fifo], { cwd: projectRoot, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    const feed = createWriteStream(fifo);
    feed.write(patch.subarray(0, middleOfPatch(patch))); // the rest never arrives
    for (let i = 0; i < 200 && !existsSync(state); i++) await sleep(50);
    expect(existsSync(state), `no checkpoint recorded; stderr: ${stderr}`).toBe(true);
    await sleep(300);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    feed.destroy();

    const checkpoint = JSON.parse(readFileSync(state, 'utf8')) as OpsApplyCheckpoint;
    expect(checkpoint.opIndex).toBeGreaterThan(0);
    expect(checkpoint.targetOffset).toBeGreaterThan(0);
    expect(existsSync(out)).toBe(false);
    expect(statSync(partialPathFor(out)).size).toBeGreaterThanOrEqual(checkpoint.targetOffset);

    const { stdout } = await run(process.execPath, [OTA_BIN, ...args, '--patch', join(dir, 'p.ops')], { cwd: projectRoot });
    const result = JSON.parse(stdout) as { resumedFromOp: number; out: { sha256: string } };
    expect(result.resumedFromOp).toBe(checkpoint.opIndex);
    expect(sha256(out)).toBe(sha256(join(dir, 'new.img')));
    expect(result.out.sha256).toBe(sha256(out));
    expect(existsSync(state)).toBe(false);
    expect(existsSync(partialPathFor(out))).toBe(false);
  });

  it('applyOpsDelta: an aborted apply keeps its partial output and resumes from the last checkpoint', async () => {
    const out = join(dir, 'lib-slot.img');
    const checkpoints: OpsApplyCheckpoint[] = [];
    const controller = new AbortController();
    const aborted = await applyOpsDelta({
      sourcePath: join(dir, 'old.img'),
      patchPath: join(dir, 'p.ops'),
      outPath: out,
      checkpointBytes: 512 * 1024,
      onCheckpoint: (c) => {
        checkpoints.push(c);
        if (checkpoints.length === 2) controller.abort();
      },
      signal: controller.signal,
    }).catch((e: unknown) => e);
    expect(aborted).toMatchObject({ name: 'AbortError' });
    expect(existsSync(partialPathFor(out))).toBe(true);
    // Resume from the first checkpoint (as if the second had not reached the disk).
    const resumed = await applyOpsDelta({ sourcePath: join(dir, 'old.img'), patchPath: join(dir, 'p.ops'), outPath: out, resumeFrom: checkpoints[0] });
    expect(resumed.resumedFromOp).toBe(checkpoints[0]!.opIndex);
    expect(sha256(out)).toBe(sha256(join(dir, 'new.img')));
  });

  it('refuses a checkpoint whose partial output is gone', async () => {
    const out = join(dir, 'gone.img');
    let checkpoint: OpsApplyCheckpoint | undefined;
    const controller = new AbortController();
    await applyOpsDelta({
      sourcePath: join(dir, 'old.img'),
      patchPath: join(dir, 'p.ops'),
      outPath: out,
      checkpointBytes: 512 * 1024,
      onCheckpoint: (c) => {
        checkpoint ??= c;
        controller.abort();
      },
      signal: controller.signal,
    }).catch(() => undefined);
    rmSync(partialPathFor(out));
    await expect(applyOpsDelta({ sourcePath: join(dir, 'old.img'), patchPath: join(dir, 'p.ops'), outPath: out, resumeFrom: checkpoint })).rejects.toMatchObject({ code: 'bad-resume' });
  });
});

describe('apply memory', () => {
  it('does not grow with the image: a 32 MB and a 4 MB pair applied in fresh processes', async (ctx) => {
    if (skipReason) ctx.skip();
    // Same op size limit for both, so only the image size differs.
    const child = join(dir, 'apply-child.mjs');
    writeFileSync(
      child,
      `const { applyOpsDelta } = await import(${JSON.stringify(join(projectRoot, 'dist', 'deltas', 'ops', 'index.js'))});
       const [source, patch, out] = process.argv.slice(2);
       const r = await applyOpsDelta({ sourcePath: source, patchPath: patch, outPath: out });
       process.stdout.write(JSON.stringify(r));`,
    );
    const peaks: Record<string, number> = {};
    for (const size of [4, 32]) {
      const d = join(dir, `mem-${size}`);
      rmSync(d, { recursive: true, force: true });
      execFileSync('mkdir', ['-p', d]);
      buildImagePair({ oldPath: join(d, 'old.img'), newPath: join(d, 'new.img'), targetBytes: size * MiB, seed: 41 });
      await generateOpsDelta({ sourcePath: join(d, 'old.img'), targetPath: join(d, 'new.img'), outPath: join(d, 'p.ops'), maxOpBytes: 512 * 1024 });
      const { stdout } = await run(process.execPath, [child, join(d, 'old.img'), join(d, 'p.ops'), join(d, 'out.img')], { cwd: projectRoot });
      const result = JSON.parse(stdout) as { peakRssBytes: number; length: number };
      expect(sha256(join(d, 'out.img'))).toBe(sha256(join(d, 'new.img')));
      peaks[size] = result.peakRssBytes;
      rmSync(d, { recursive: true, force: true });
    }
    // Holding either image would add ~28 MB for the bigger pair; allow GC noise well below that.
    expect(peaks[32]! - peaks[4]!).toBeLessThan(12 * MiB);
  });
});
