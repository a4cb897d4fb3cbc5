// `ota trust rotate-root --rotate-targets-key / --rotate-online-key`: root N+1 names fresh targets and/or
// online keys (trust/root-rotation.ts rotateRoleKeys), and the key files in use are replaced, so the
// worker and later `ota trust` commands sign with the new keys. The new keys are written beside the old
// ones first and only moved into place once the repository is written: a failure loses no key.
import { rename, rm, writeFile } from 'node:fs/promises';
import { generateSigningKeyPem, signingKeyFromPem } from '../../signing/keys.js';
import type { TrustKeyPaths } from '../../trust/key-files.js';
import { readRepository, writeRepository } from '../../trust/metadata-store.js';
import type { OnlineSigning, TufRepository } from '../../trust/repository.js';
import { rotateRoleKeys, type RotateRootInput } from '../../trust/root-rotation.js';
import type { ArtifactStore } from '../../stores/index.js';
import { tufSigningKey } from '../../trust/tuf-keys.js';

export interface RoleKeyRotation {
  targets: boolean;
  online: boolean;
  /** The key files in use (--targets-key / --online-key, else the defaults). */
  targetsPath: string;
  onlinePath: string;
}

export async function rotateRoleKeyFiles(
  store: ArtifactStore,
  current: OnlineSigning,
  rootInput: Omit<RotateRootInput, 'roleKeys'>,
  rotation: RoleKeyRotation,
): Promise<{ repo: TufRepository; keyFiles: Record<string, string> }> {
  const staged: Array<{ path: string; pem: string }> = [];
  const fresh = (path: string) => {
    const pem = generateSigningKeyPem();
    staged.push({ path, pem });
    return tufSigningKey(signingKeyFromPem(pem).privateKey);
  };
  const next: OnlineSigning = {
    targetsKeys: rotation.targets ? [fresh(rotation.targetsPath)] : current.targetsKeys,
    onlineKey: rotation.online ? fresh(rotation.onlinePath) : current.onlineKey,
    now: new Date(),
  };
  for (const { path, pem } of staged) await writeFile(`${path}.next`, pem, { mode: 0o600, flag: 'wx' });
  try {
    const before = await readRepository(store);
    const repo = rotateRoleKeys(before.repo, rootInput, next);
    await writeRepository(store, repo, before);
    const keyFiles: Record<string, string> = {};
    for (const { path } of staged) {
      const retired = `${path}.retired-root-${repo.roots.length - 1}`;
      await rename(path, retired);
      await rename(`${path}.next`, path);
      keyFiles[path] = retired;
    }
    return { repo, keyFiles };
  } finally {
    for (const { path } of staged) await rm(`${path}.next`, { force: true });
  }
}

export function keyPathsInUse(opts: { targetsKey?: string; onlineKey?: string }, paths: TrustKeyPaths): { targetsPath: string; onlinePath: string } {
  return { targetsPath: opts.targetsKey ?? paths.targets, onlinePath: opts.onlineKey ?? paths.online };
}
