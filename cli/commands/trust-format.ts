// What `ota trust` prints: the repository's roles, keys, versions and expiry, for people or as JSON.
import { Key } from '@tufjs/models';
import { publicKeyHint } from '../../signing/keys.js';
import { describeScope, revokedSignersOf, signersOf } from '../../trust/release-signers.js';
import { latestRoot, type TufRepository } from '../../trust/repository.js';
import { signedJSON } from '../../trust/metadata.js';
import { publicKeyOf } from '../../trust/tuf-keys.js';

export interface RepositoryDescription {
  store: string;
  roles: Record<string, { version: number; expires: string; keyIDs: string[]; threshold: number }>;
  releaseSigners: Array<{ keyID: string; hint: string; hardware: 'all' | string[] }>;
  revokedSigners: Record<string, string>;
  targets: number;
  keyFiles?: object;
}

export function describeRepository(repo: TufRepository): Omit<RepositoryDescription, 'store'> {
  const root = latestRoot(repo);
  const role = (name: string, md: { signed: { version: number; expires: string } }) => ({
    version: md.signed.version,
    expires: md.signed.expires,
    keyIDs: root.signed.roles[name]!.keyIDs,
    threshold: root.signed.roles[name]!.threshold,
  });
  return {
    roles: { root: role('root', root), targets: role('targets', repo.targets), snapshot: role('snapshot', repo.snapshot), timestamp: role('timestamp', repo.timestamp) },
    releaseSigners: signersOf(signedJSON(repo.targets)).map(({ keyID, key, scope }) => ({ keyID, hint: publicKeyHint(publicKeyOf(Key.fromJSON(keyID, key as never))), hardware: scope })),
    revokedSigners: revokedSignersOf(repo.targets),
    targets: Object.keys(repo.targets.signed.targets).length,
  };
}

export function renderRepository(d: RepositoryDescription): string {
  const short = (id: string) => id.slice(0, 16);
  const lines = [`TUF repository in ${d.store}`];
  for (const [name, r] of Object.entries(d.roles)) {
    lines.push(`${name.padEnd(9)} version ${String(r.version).padEnd(4)} expires ${r.expires}  ${r.threshold} of ${r.keyIDs.length} key(s): ${r.keyIDs.map(short).join(', ')}`);
  }
  for (const s of d.releaseSigners) lines.push(`signer    ${s.keyID} (hint ${short(s.hint)})${s.hardware === 'all' ? '' : `, ${describeScope(s.hardware)}`}`);
  for (const [id, at] of Object.entries(d.revokedSigners)) lines.push(`revoked   ${id} at ${at}`);
  lines.push(`targets   ${d.targets} release manifest(s)`);
  if (d.keyFiles) lines.push(`keys      ${JSON.stringify(d.keyFiles)}`);
  return lines.join('\n');
}
