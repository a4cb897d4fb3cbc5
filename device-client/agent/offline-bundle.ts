// An offline bundle (USB stick, sideload): a folder, or a tar of one, laid out like the artifact
// store: releases/<hardware>/<version>/manifest.json (+ .sigstore.json) and blobs/sha256/<digest>.
// Nothing here is trusted: manifests are verified by the caller, artifacts by digest while read.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, open as openFile, readdir, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGunzip } from 'node:zlib';
import { CodedError } from '../../platform/coded-error.js';
import { readTar, TarFormatError } from '../../platform/tar-reader.js';
import { InputTooLargeError, readFileAtMost } from '../../platform/bounded-read.js';
import { manifestBundleKey, manifestKey } from '../../release/layout.js';
import { compareSemver } from '../../release/semver.js';
import { semverSchema } from '../../schemas/manifest.js';
import { OversizedInputError } from '../../verification/errors.js';
import { reclaimScratch } from './scratch.js';
import { bundleMetadataReader } from './tuf-sources.js';
import type { CandidateRelease, UpdateSource } from './update-source.js';

/** Limits on what is read before it is verified (docs/device-agent.md, "Limits"). */
export const BUNDLE_LIMITS = {
  /** manifest.json: 256 deltas and 256 skipped deltas fit in well under this. */
  manifestBytes: 1 << 20,
  /** manifest.json.sigstore.json: a key bundle is ~1 KiB, a keyless one with its log entries ~10 KiB. */
  signatureBundleBytes: 1 << 20,
  /** A tar bundle: entries (files and folders), counted from the headers as they stream in. */
  tarMembers: 4096,
  /** A tar bundle: the sum of the members' sizes as their headers state them, checked before each body is written. */
  tarTotalBytes: 4 * 1024 ** 3,
} as const;

export type TarLimits = Pick<typeof BUNDLE_LIMITS, 'tarMembers' | 'tarTotalBytes'>;

export type BundleRefusalCode = 'BUNDLE_TOO_MANY_MEMBERS' | 'BUNDLE_TOO_LARGE' | 'BUNDLE_UNEXPECTED_MEMBER' | 'BUNDLE_MALFORMED_TAR';

/** A tar bundle refused while it streamed in (nothing was written outside its scratch folder, which is removed). */
export class BundleRefusedError extends CodedError<BundleRefusalCode> {}

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
  static async open(input: string, scratchDir: string, limits: TarLimits = BUNDLE_LIMITS): Promise<OfflineBundleSource> {
    const path = input.startsWith('file://') ? fileURLToPath(input) : /^[a-z][a-z0-9+.-]*:\/\//i.test(input) ? unsupported(input) : resolve(input);
    const info = await stat(path).catch(() => {
      throw new BundleError(`offline bundle ${path} does not exist`);
    });
    if (info.isDirectory()) return new OfflineBundleSource(path, `offline bundle ${path}`);
    if (!info.isFile()) throw new BundleError(`offline bundle ${path} is neither a folder nor a tar file`);
    // One unpacked bundle at a time per device: one a power cut left behind is reclaimed first.
    await reclaimScratch(scratchDir, ['bundle-']);
    const dir = await mkdtemp(join(scratchDir, 'bundle-'));
    try {
      await untar(path, dir, limits);
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
    const bundle = (await readBounded(bundlePath, BUNDLE_LIMITS.signatureBundleBytes, `${this.description}: signature bundle of ${chosen}`).catch((error: unknown) => {
      if (error instanceof OversizedInputError) throw error;
      throw new BundleError(`${this.description}: release ${chosen} has no signature bundle (${bundlePath})`);
    })).toString('utf8');
    const manifestBytes = await readBounded(manifestPath, BUNDLE_LIMITS.manifestBytes, `${this.description}: manifest of ${chosen}`);
    const tuf = (await stat(this.pathOf('tuf')).then((i) => i.isDirectory(), () => false)) ? bundleMetadataReader(this.root, this.description) : undefined;
    return { version: chosen, manifestBytes, bundle, origin: manifestPath, ...(tuf && { tuf }) };
  }

  async open(location: string): Promise<Readable> {
    if (/^https?:\/\//.test(location)) throw new BundleError(`${this.description}: artifact ${location} is a URL; an offline bundle only serves store keys`);
    const path = this.pathOf(location);
    await stat(path).catch(() => {
      throw new BundleError(`${this.description} lacks ${location}`);
    });
    return createReadStream(path, { highWaterMark: 1 << 20 });
  }

  async has(location: string): Promise<boolean> {
    if (/^https?:\/\//.test(location)) return false;
    return stat(this.pathOf(location)).then(
      (info) => info.isFile(),
      () => false,
    );
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

/** Read with the limit enforced while reading (an endless manifest.json stops at the limit). */
async function readBounded(path: string, limit: number, what: string): Promise<Buffer> {
  try {
    return await readFileAtMost(path, limit, what);
  } catch (error) {
    if (error instanceof InputTooLargeError) throw new OversizedInputError(error.message, { cause: error });
    throw error;
  }
}

function unsupported(uri: string): never {
  throw new BundleError(`cannot install from ${uri}: only folders, tar files and file:// URIs are supported offline (gateway downloads come with the check-in)`);
}

/**
 * Store keys an offline bundle may hold: manifests and their bundles, channel indexes, blobs by digest,
 * and the fleet's TUF metadata (tuf/N.root.json, tuf/timestamp.json, ...).
 * Every folder on the way to one is allowed too; anything else (links, devices, other names) is refused.
 */
const BUNDLE_FILE = /^(?:releases\/[a-z0-9][a-z0-9._-]*\/(?:[0-9A-Za-z.+-]+\/manifest\.json(?:\.sigstore\.json)?|channels\/[a-z][a-z0-9-]*\/index\.json)|blobs\/sha256\/[0-9a-f]{64}|tuf\/(?:[1-9][0-9]{0,8}\.(?:root|targets|snapshot)|root|targets|snapshot|timestamp)\.json)$/;
const BUNDLE_DIR = /^(?:releases(?:\/[a-z0-9][a-z0-9._-]*(?:\/(?:channels(?:\/[a-z][a-z0-9-]*)?|[0-9A-Za-z.+-]+))?)?|blobs(?:\/sha256)?|tuf)$/;

/** "./releases/x/" -> "releases/x"; null for the archive's root folder itself. */
function memberKey(path: string): string | null {
  const key = path.replace(/^(?:\.\/)+/, '').replace(/\/+$/, '');
  return key === '' || key === '.' ? null : key;
}

/**
 * Unpacks a tar (or gzip'ed tar) bundle into `dir` with the streaming reader: each header is checked
 * before its body is written (member count, the running total of stated sizes, the name against the
 * bundle layout, regular files and folders only), and bodies are written only below `dir`, each file
 * created new (a repeated name is refused). No external tar: nothing is unpacked before it is checked.
 */
async function untar(file: string, dir: string, limits: TarLimits): Promise<void> {
  const head = Buffer.alloc(2);
  const handle = await openFile(file, 'r');
  try {
    await handle.read(head, 0, 2, 0);
  } finally {
    await handle.close();
  }
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  const source: Readable = head[0] === 0x1f && head[1] === 0x8b ? raw.pipe(createGunzip()) : raw;
  const refuse = (code: BundleRefusalCode, message: string) => new BundleRefusedError(code, `offline bundle ${file}: ${message}`);
  let members = 0;
  let total = 0;
  try {
    for await (const entry of readTar(source)) {
      if (++members > limits.tarMembers) throw refuse('BUNDLE_TOO_MANY_MEMBERS', `more than ${limits.tarMembers} members`);
      total += entry.size;
      if (total > limits.tarTotalBytes) throw refuse('BUNDLE_TOO_LARGE', `members add up to more than ${limits.tarTotalBytes} bytes (at ${entry.path}, ${entry.size} bytes)`);
      const key = memberKey(entry.path);
      if (entry.type === 'directory') {
        if (key === null) continue;
        if (!BUNDLE_DIR.test(key)) throw refuse('BUNDLE_UNEXPECTED_MEMBER', `unexpected folder ${JSON.stringify(entry.path)}`);
        await mkdir(join(dir, key), { recursive: true });
        continue;
      }
      if (entry.type !== 'file' || key === null || !BUNDLE_FILE.test(key)) {
        throw refuse('BUNDLE_UNEXPECTED_MEMBER', `unexpected ${entry.type} ${JSON.stringify(entry.path)} (a bundle holds only manifests, their signatures, channel indexes and blobs/sha256/<digest>)`);
      }
      const target = join(dir, key);
      await mkdir(dirname(target), { recursive: true });
      await pipeline(Readable.from(entry.body()), createWriteStream(target, { flags: 'wx', mode: 0o600 })).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'EEXIST') throw refuse('BUNDLE_UNEXPECTED_MEMBER', `${JSON.stringify(entry.path)} appears twice`);
        throw error;
      });
    }
  } catch (error) {
    if (error instanceof TarFormatError) throw refuse('BUNDLE_MALFORMED_TAR', error.message);
    if (error instanceof Error && /incorrect header check|unexpected end of file/.test(error.message)) throw refuse('BUNDLE_MALFORMED_TAR', error.message);
    throw error;
  } finally {
    raw.destroy();
  }
}
