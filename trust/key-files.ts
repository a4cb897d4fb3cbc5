// The repository's keys on disk, in the config folder beside the release key (mode 0600, created on
// first use by signing/keys.ts, like the release key). Root keys belong offline: pass their files
// explicitly; the defaults exist so the embedded setup works without a key ceremony.
import { createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { loadOrCreateSigningKey } from '../signing/keys.js';
import type { OnlineSigning } from './repository.js';
import { tufPublicKey, tufSigningKey, type TufPublicKey, type TufSigningKey } from './tuf-keys.js';

export interface TrustKeyPaths {
  dir: string;
  targets: string;
  online: string;
  /** The worker's release-publish key: signs the publish role (trust/publish-role.ts). */
  publish: string;
  root(index: number): string;
}

/** Default key files: <keysDir>/{root-N,targets,online,release-publish}.pem; keysDir defaults to tuf/ beside the release key. */
export function trustKeyPaths(trust: { keysDir?: string }, releaseKeyPath: string): TrustKeyPaths {
  const dir = trust.keysDir ?? join(dirname(releaseKeyPath), 'tuf');
  return { dir, targets: join(dir, 'targets.pem'), online: join(dir, 'online.pem'), publish: join(dir, 'release-publish.pem'), root: (i) => join(dir, `root-${i}.pem`) };
}

/** A private key file, created (0600) when missing. */
export async function signingKeyFile(path: string): Promise<TufSigningKey> {
  return tufSigningKey((await loadOrCreateSigningKey(path)).privateKey);
}

/** A public key from a PEM file holding a public or a private key (a signer hands in only its .pub). */
export async function publicKeyFile(path: string): Promise<TufPublicKey> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`${path}: cannot read the key (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return tufPublicKey(createPublicKey(pem));
}

/**
 * The keys the worker signs its targets changes with (a publish, an on-demand delta). With the publish
 * role delegated: the release-publish and online keys only; the targets key is not read (it may be
 * offline). A repository from before the delegation needs the targets key.
 */
export async function workerSigning(trust: { keysDir?: string }, releaseKeyPath: string, delegated: boolean): Promise<OnlineSigning> {
  const paths = trustKeyPaths(trust, releaseKeyPath);
  return {
    targetsKeys: delegated ? [] : [await signingKeyFile(paths.targets)],
    onlineKey: await signingKeyFile(paths.online),
    ...(delegated && { publishKey: await signingKeyFile(paths.publish) }),
    now: new Date(),
  };
}
