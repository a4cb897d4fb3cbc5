// The ops format against Debian's bsdiff/bspatch CLI on filesystem images of the two releases
// (bench/fs-pairs.mjs: a tar archive and an ext4 image), in the same run as the raw pair. The CLI's
// patch stands for whole-image bsdiff: ota-bsdiff writes the same bytes (bench/bsdiff.mjs checks
// that on the raw pair, test/deltas/ops/ota-bsdiff.test.ts on every test run).
// @ts-check
import { existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cliTimeoutSeconds, flag, fsKinds } from './args.mjs';
import { log, mb, rssMb, sec } from './format.mjs';
import { fsPairs } from './fs-pairs.mjs';
import { runCli } from './measure.mjs';
import { opsRound } from './ops.mjs';
import { findTool, sha256File } from './project.mjs';

function debianTool(name) {
  return findTool(name) ?? (existsSync(`/usr/bin/${name}`) ? `/usr/bin/${name}` : undefined);
}

async function cliRound(pair, work) {
  const bsdiffBin = debianTool('bsdiff');
  const bspatchBin = debianTool('bspatch');
  if (flag('--no-cli') || !bsdiffBin || !bspatchBin) return undefined;
  const patch = join(work, `cli.${pair.kind}.bsdiff`);
  const timeoutMs = cliTimeoutSeconds > 0 ? cliTimeoutSeconds * 1000 : undefined;
  const generate = await runCli(`Debian bsdiff (${pair.kind})`, bsdiffBin, [pair.oldPath, pair.newPath, patch], { timeoutMs });
  let reference;
  if (generate.timedOut) {
    // qsufsort can take hours on an image with large runs of equal blocks (ext4 free space). The
    // patch bytes to compare against then come from ota-bsdiff: bsdiff 4's matching on a SA-IS
    // suffix array, byte-identical to Debian's output (checked on the raw pair in bench/bsdiff.mjs).
    log(`Debian bsdiff (${pair.kind}): not finished after ${sec(generate.wallMs)} (--cli-timeout ${cliTimeoutSeconds}); whole-image bsdiff by ota-bsdiff instead, for the patch bytes`);
    const otaBsdiff = findTool('ota-bsdiff');
    if (!otaBsdiff) return { generate };
    reference = { tool: 'ota-bsdiff', ...(await runCli(`ota-bsdiff, whole image (${pair.kind})`, otaBsdiff, [pair.oldPath, pair.newPath, patch])) };
  }
  // The patch on disk is the CLI's, or ota-bsdiff's when the CLI did not finish.
  const patchBytes = statSync(patch).size;
  if (reference) reference.patchBytes = patchBytes;
  else log(`Debian bsdiff (${pair.kind}): ${mb(patchBytes)} MB patch, ${sec(generate.wallMs)}, CPU ${sec(generate.cpuMs)}, peak RSS ${rssMb(generate.peakRssBytes)}`);
  const out = join(work, `cli.${pair.kind}.out`);
  const apply = await runCli(`Debian bspatch (${pair.kind})`, bspatchBin, [pair.oldPath, out, patch]);
  const targetSha256Ok = (await sha256File(out)) === pair.newSha256;
  log(`Debian bspatch (${pair.kind}): ${sec(apply.wallMs)}, peak RSS ${rssMb(apply.peakRssBytes)}, sha256 ${targetSha256Ok ? 'matches' : 'MISMATCH'}`);
  rmSync(out, { force: true });
  rmSync(patch, { force: true });
  return { generate: generate.timedOut ? generate : { ...generate, patchBytes }, ...(reference ? { reference } : {}), apply: { ...apply, targetSha256Ok } };
}

/** One entry per filesystem pair: the pair, the CLI's figures, the ops round's. */
export async function fsBench(pairDir, work) {
  const results = [];
  for (const pair of (await fsPairs(pairDir)).filter((p) => fsKinds.includes(p.kind))) {
    const cli = await cliRound(pair, work);
    const ops = await opsRound(pair.kind, pair.oldPath, pair.newPath, pair.newSha256, work);
    results.push({ kind: pair.kind, pair: { oldBytes: pair.oldBytes, newBytes: pair.newBytes, oldSha256: pair.oldSha256, newSha256: pair.newSha256 }, cli, ops });
  }
  return results;
}
