// The image pair every delta benchmark runs on, cached under .ota/bench/ (keyed by the generator's
// source; synthetic: size and seed), and the ~1 GB pair made of copies of it.
// @ts-check
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { buildImagePair } from '../test/support/image-pairs.mjs';
import { flag, pairKind, REBUILT_FRACTION, seed, sizeMiB } from './args.mjs';
import { log, mb, sec, status } from './format.mjs';
import { MiB, root, sha256File } from './project.mjs';
import { buildReleasePair, RELEASES } from './release-pair.mjs';

export async function imagePair() {
  const generator = pairKind === 'releases' ? 'bench/release-pair.mjs' : 'test/support/image-pairs.mjs';
  const generatorHash = createHash('sha256').update(readFileSync(join(root, generator))).digest('hex').slice(0, 12);
  const dir = join(root, '.ota', 'bench', pairKind === 'releases' ? `releases-${generatorHash}` : `pair-${sizeMiB}MiB-seed${seed}-${generatorHash}`);
  const metaPath = join(dir, 'meta.json');
  if (flag('--fresh')) rmSync(dir, { recursive: true, force: true });
  if (existsSync(metaPath)) {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
    const ok = ['old', 'new'].every((w) => existsSync(join(dir, `${w}.img`)) && statSync(join(dir, `${w}.img`)).size === meta[`${w}Bytes`]);
    if (ok) {
      log(`image pair: reusing ${relative(root, dir)} (${mb(meta.oldBytes)} → ${mb(meta.newBytes)} MB; --fresh rebuilds it)`);
      return { ...meta, oldPath: join(dir, 'old.img'), newPath: join(dir, 'new.img'), dir, cached: true };
    }
  }
  const temp = `${dir}.partial-${process.pid}`;
  rmSync(temp, { recursive: true, force: true });
  mkdirSync(temp, { recursive: true });
  const started = performance.now();
  let info;
  if (pairKind === 'releases') {
    status(`image pair: fetching ${RELEASES.length * 2} release tarballs from the npm registry (cached in .ota/bench/npm-packs)...`, true);
    const built = buildReleasePair({ oldPath: join(temp, 'old.img'), newPath: join(temp, 'new.img'), cacheDir: join(root, '.ota', 'bench', 'npm-packs') });
    info = { ...built, sizeMiB: Math.round(built.newBytes / MiB) };
  } else {
    status(`image pair: building ${sizeMiB} MiB from this machine's ELF binaries...`, true);
    info = { kind: 'synthetic', ...buildImagePair({ oldPath: join(temp, 'old.img'), newPath: join(temp, 'new.img'), targetBytes: sizeMiB * MiB, seed, rebuiltFraction: REBUILT_FRACTION }), sizeMiB, seed, rebuiltFraction: REBUILT_FRACTION };
  }
  status('image pair: hashing...', true);
  const meta = {
    ...info,
    generator: `${generator}@${generatorHash}`,
    oldSha256: await sha256File(join(temp, 'old.img')),
    newSha256: await sha256File(join(temp, 'new.img')),
  };
  writeFileSync(join(temp, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(temp, dir);
  log(`image pair: built in ${sec(performance.now() - started)} → ${relative(root, dir)} (${mb(info.oldBytes)} → ${mb(info.newBytes)} MB, ${pairSummary(info)})`);
  return { ...meta, oldPath: join(dir, 'old.img'), newPath: join(dir, 'new.img'), dir, cached: false };
}

export function pairSummary(pair) {
  if (pair.kind === 'releases') return pair.binaries.map((b) => b.name).join('; ');
  return `${pair.binaries} ELF binaries from this machine, ${pair.rebuilt} "rebuilt", 1 added mid-image, 1 removed`;
}

/** ~1 GB pair: the 100 MiB pair repeated (real ELF content, the same kind of change every 100 MB). */
export async function bigPair(pair, times) {
  const dir = join(pair.dir, `x${times}`);
  const meta = join(dir, 'meta.json');
  if (existsSync(meta)) return { ...JSON.parse(readFileSync(meta, 'utf8')), oldPath: join(dir, 'old.img'), newPath: join(dir, 'new.img') };
  mkdirSync(dir, { recursive: true });
  status(`1 GB pair: writing ${times} × the ${sizeMiB} MiB pair...`, true);
  const hashes = {};
  for (const w of ['old', 'new']) {
    const part = readFileSync(w === 'old' ? pair.oldPath : pair.newPath);
    const hash = createHash('sha256');
    const temp = join(dir, `${w}.img.partial`);
    writeFileSync(temp, '');
    for (let i = 0; i < times; i++) {
      writeFileSync(temp, part, { flag: 'a' });
      hash.update(part);
    }
    renameSync(temp, join(dir, `${w}.img`));
    hashes[w] = { bytes: part.length * times, sha256: hash.digest('hex') };
  }
  const info = { times, oldBytes: hashes.old.bytes, newBytes: hashes.new.bytes, oldSha256: hashes.old.sha256, newSha256: hashes.new.sha256 };
  writeFileSync(meta, JSON.stringify(info, null, 2));
  return { ...info, oldPath: join(dir, 'old.img'), newPath: join(dir, 'new.img') };
}
