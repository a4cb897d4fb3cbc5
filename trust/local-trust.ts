// What a verifier on this machine pins: the newest root it has verified and the versions and newest
// signed time it has seen (verify-roles.ts), in the trust folder beside trusted_root.json. Written
// atomically after each successful walk, so the next run refuses rollbacks and a clock set back.
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Metadata, Root } from '@tufjs/models';
import { readFileAtMost } from '../platform/bounded-read.js';
import { writeFileAtomic } from '../platform/atomic-write.js';
import { metadataBytes } from './metadata.js';
import { METADATA_LIMITS, parseMetadata } from './parse.js';
import type { TrustedVersions } from './verify-roles.js';

export interface LocalTrust {
  root: Metadata<Root>;
  seen: TrustedVersions;
}

export function localTrustDir(trustedRootPath: string): string {
  return join(dirname(trustedRootPath), 'tuf');
}

/** The pinned root and what was seen; undefined when this machine pins no TUF root. */
export async function readLocalTrust(dir: string): Promise<LocalTrust | undefined> {
  let rootBytes: Buffer;
  try {
    rootBytes = await readFileAtMost(join(dir, 'root.json'), METADATA_LIMITS.root, 'pinned root.json');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let seen: TrustedVersions = {};
  try {
    seen = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as TrustedVersions;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return { root: parseMetadata('root', rootBytes, `${dir}/root.json`), seen };
}

export async function writeLocalTrust(dir: string, trust: LocalTrust): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(join(dir, 'root.json'), metadataBytes(trust.root));
  await writeFileAtomic(join(dir, 'state.json'), `${JSON.stringify(trust.seen, null, 2)}\n`);
}
