// What `ota trust` prints: the repository's roles, keys, versions and expiry, for people or as JSON.
import type { RepositoryDescription } from '../../trust/describe-repository.js';
import { describeScope } from '../../trust/release-signers.js';

export { describeRepository, type RepositoryDescription } from '../../trust/describe-repository.js';

export function renderRepository(d: RepositoryDescription): string {
  const short = (id: string) => id.slice(0, 16);
  const lines = [`TUF repository in ${d.store}`];
  for (const [name, r] of Object.entries(d.roles)) {
    lines.push(`${name.padEnd(9)} version ${String(r.version).padEnd(4)} expires ${r.expires}  ${r.threshold} of ${r.keyIDs.length} key(s): ${r.keyIDs.map(short).join(', ')}`);
  }
  for (const s of d.releaseSigners) {
    const who = s.keyless ? `keyless ${s.keyless.identity} (issuer ${s.keyless.issuer})` : `hint ${short(s.hint)}`;
    lines.push(`signer    ${s.keyID} (${who})${s.hardware === 'all' ? '' : `, ${describeScope(s.hardware)}`}`);
  }
  for (const [id, at] of Object.entries(d.revokedSigners)) lines.push(`revoked   ${id} at ${at}`);
  if (d.publishKey) lines.push(`publish   ${d.publishKey} (the worker's release-publish key)`);
  for (const [id, at] of Object.entries(d.replacedPublishKeys ?? {})) lines.push(`replaced  ${id} (release-publish) at ${at}`);
  lines.push(`targets   ${d.targets} release manifest(s)`);
  if (d.keyFiles) lines.push(`keys      ${JSON.stringify(d.keyFiles)}`);
  return lines.join('\n');
}
