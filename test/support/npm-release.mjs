// Executables of real software releases, the native builds published to the npm registry: the
// delta benchmark's image pair (bench/release-pair.mjs) and the tests that hold the ops format to
// whole-image bsdiff on a real release. Fetched once with `npm pack` (npm checks the registry's
// integrity hash) into a cache folder; plain JS so the bench loads it with plain node.
// @ts-check
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** The tarball for pkg@version in cacheDir, fetched with `npm pack` when missing. */
function tarball(cacheDir, pkg, version) {
  const cached = join(cacheDir, `${pkg.replace(/^@/, '').replace('/', '-')}-${version}.tgz`);
  if (existsSync(cached)) return cached;
  mkdirSync(cacheDir, { recursive: true });
  const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', cacheDir, `${pkg}@${version}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n').pop();
  if (!name || !readdirSync(cacheDir).includes(name)) throw new Error(`npm pack ${pkg}@${version} wrote no tarball`);
  return join(cacheDir, name);
}

/**
 * One file of pkg@version's tarball (e.g. 'package/bin/esbuild').
 * @param {string} cacheDir @param {string} pkg @param {string} version @param {string} member
 * @returns {Buffer}
 */
export function binary(cacheDir, pkg, version, member) {
  return execFileSync('tar', ['-xzOf', tarball(cacheDir, pkg, version), member], { maxBuffer: 512 * 1024 * 1024 });
}
