// An offline bundle (USB stick, sideload): a folder, or a tar of one, laid out like the artifact
// store: releases/<hardware>/<version>/manifest.json (+ .sigstore.json) and blobs/sha256/<digest>.
// Nothing here is trusted: manifests are verified by the caller, artifacts by digest while read.
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { manifestBundleKey, manifestKey } from '../../release/layout.js';
import { compareSemver } from '../../release/semver.js';
import { semverSchema } from '../../schemas/manifest.js';
import type { CandidateRelease, UpdateSource } from './update-source.js';

export class BundleError extends Error {
  override name = 'BundleError';
}

export class OfflineBundleSource implements UpdateSource {
  private constructor(
    readonly root: string,
    readonly description: string,
    private readonly unpackedDir?: string,
  ) {}

  /** A folder, a .tar/.tar.gz file, or a file:// URI of either; tars are unpacked into `scratchDir`. */
  static async open(input: string, scratchDir: string): Promise<OfflineBundleSource> {
    const path = input.startsWith('file://') ? fileURLToPath(input) : /^[a-z][a-z0-9+.-]*:\/\//i.test(input) ? unsupported(input) : resolve(input);
    const info = await stat(path).catch(() => {
      throw new BundleError(`offline bundle ${path} does not exist`);
    });
    if (info.isDirectory()) return new OfflineBundleSource(path, `offline bundle ${path}`);
    if (!info.isFile()) throw new BundleError(`offline bundle ${path} is neither a folder nor a tar file`);
    const dir = await mkdtemp(join(scratchDir, 'bundle-'));
    try {
      await untar(path, dir);
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    return new OfflineBundleSource(dir, `offline bundle ${path}`, dir);
  }

  async release(hardwareId: string, version?: string): Promise<CandidateRelease | null> {
    const versions = await this.versions(hardwareId);
    const chosen = version ?? versions[0];
    if (!chosen) return null;
    if (!versions.includes(chosen)) throw new BundleError(`${this.description} has no release ${chosen} for ${hardwareId} (it has: ${versions.join(', ') || 'none'})`);
    const manifestPath = this.pathOf(manifestKey(hardwareId, chosen));
    const bundlePath = this.pathOf(manifestBundleKey(hardwareId, chosen));
    const bundle = await readFile(bundlePath, 'utf8').catch(() => {
      throw new BundleError(`${this.description}: release ${chosen} has no signature bundle (${bundlePath})`);
    });
    return { version: chosen, manifestBytes: await readFile(manifestPath), bundle, origin: manifestPath };
  }

  async open(location: string): Promise<Readable> {
    if (/^https?:\/\//.test(location)) throw new BundleError(`${this.description}: artifact ${location} is a URL; an offline bundle only serves store keys`);
    const path = this.pathOf(location);
    await stat(path).catch(() => {
      throw new BundleError(`${this.description} lacks ${location}`);
    });
    return createReadStream(path, { highWaterMark: 1 << 20 });
  }

  async close(): Promise<void> {
    if (this.unpackedDir) await rm(this.unpackedDir, { recursive: true, force: true });
  }

  /** Versions with a manifest for this hardware, newest first. */
  private async versions(hardwareId: string): Promise<string[]> {
    const dir = this.pathOf(`releases/${hardwareId}`);
    const names = await readdir(dir).catch(() => [] as string[]);
    const found: string[] = [];
    for (const name of names) {
      if (!semverSchema.safeParse(name).success) continue; // e.g. channels/
      if (await stat(this.pathOf(manifestKey(hardwareId, name))).then(() => true, () => false)) found.push(name);
    }
    return found.sort((a, b) => compareSemver(b, a));
  }

  /** Store keys never climb out of the bundle (the manifest schema forbids ".." segments; checked again here). */
  private pathOf(key: string): string {
    const path = resolve(this.root, key);
    if (!path.startsWith(this.root + sep)) throw new BundleError(`${this.description}: key ${key} points outside the bundle`);
    return path;
  }
}

function unsupported(uri: string): never {
  throw new BundleError(`cannot install from ${uri}: only folders, tar files and file:// URIs are supported offline (gateway downloads come with the check-in)`);
}

function untar(file: string, dir: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    // --no-same-owner/permissions: a bundle must not plant setuid files or foreign owners.
    const child = spawn('tar', ['-xf', file, '-C', dir, '--no-same-owner', '--no-same-permissions'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', (error) => reject(new BundleError(`cannot run tar to unpack ${file}: ${error.message}`)));
    child.on('close', (code) => (code === 0 ? resolvePromise() : reject(new BundleError(`cannot unpack ${file}: tar exited with ${code}: ${stderr.trim()}`))));
  });
}
