// Replacing or removing the worker's release-publish key (docs/trust.md, "Replacing the release-publish
// key"). Both are top-level targets changes, signed by the targets key (offline-capable like every
// other): the old key is remembered as replaced, so a publish role it still signs is refused with its own
// code (TUF_PUBLISH_KEY_REPLACED) and the key can never be delegated to again.
import type { Metadata, Targets } from '@tufjs/models';
import { TufInvalidChangeError } from './errors.js';
import { signedJSON, tufTime, type SignedJSON } from './metadata.js';
import { PUBLISH_ROLE, publishDelegationOf, PUBLISHING_REVOKED_FIELD, releaseView, REPLACED_PUBLISH_KEYS_FIELD, replacedPublishKeys, withPublishDelegation } from './publish-role.js';
import { assertNotReplaced, nextTargets, publishRoleFor, type OnlineSigning, type TufRepository } from './repository.js';
import type { TufPublicKey } from './tuf-keys.js';

/**
 * A new targets version delegating the publish role to `newKey` only; the old key is recorded as
 * replaced. With the new key at hand (signing.publishKey) the role's current entries are re-signed by it
 * at once (they stay valid: each still needs its release signer's bundle); written offline, `ota trust
 * push` re-signs them with the new key.
 */
export function rotatePublishKey(repo: TufRepository, newKey: Pick<TufPublicKey, 'keyID' | 'key'>, signing: OnlineSigning): TufRepository {
  const json = signedJSON(repo.targets);
  const current = publishDelegationOf(json);
  if (!current) throw new TufInvalidChangeError(`targets does not delegate release manifests to a ${PUBLISH_ROLE} key: delegate them with \`ota trust delegate-publish\``);
  const [oldKeyID] = current.role.keyids;
  if (oldKeyID === newKey.keyID) throw new TufInvalidChangeError(`key ${newKey.keyID} is the release-publish key already: rotate to a new key`);
  assertNotReplaced(repo.targets, newKey.keyID);
  const next = withoutKey(retire(json, oldKeyID!, current.keys[oldKeyID!]!, signing.now), oldKeyID!);
  next.delegations = withPublishDelegation(next.delegations as never, newKey.keyID, newKey.key.toJSON());
  const published = publishRoleFor(repo, next, signing, { keyRequired: false });
  return nextTargets({ ...repo, ...(published && { published }) }, next, signing);
}

/**
 * A new targets version without the publish role: the worker cannot publish at all (TUF_PUBLISHING_REVOKED)
 * and its key is recorded as replaced. The role's entries move into top-level targets, now vouched for by
 * the targets key that signs this change, unless `dropReleases` (then the releases only the worker listed
 * are no longer targets: devices refuse them). The role's last version stays pinned, counting for nothing.
 */
export function revokePublishing(repo: TufRepository, signing: OnlineSigning, options: { dropReleases?: boolean } = {}): TufRepository {
  const json = signedJSON(repo.targets);
  const current = publishDelegationOf(json);
  if (!current) throw new TufInvalidChangeError(`targets does not delegate release manifests to a ${PUBLISH_ROLE} key: nothing to revoke`);
  const [keyID] = current.role.keyids;
  const listed = options.dropReleases ? json.targets : signedJSON(releaseView(repo.targets, repo.published)).targets;
  const next = withoutKey(retire(json, keyID!, current.keys[keyID!]!, signing.now), keyID!);
  const delegations = next.delegations as { keys: Record<string, unknown>; roles: Array<{ name: string }> };
  next.delegations = { ...delegations, roles: delegations.roles.filter((r) => r.name !== PUBLISH_ROLE) };
  next.targets = listed;
  next[PUBLISHING_REVOKED_FIELD] = tufTime(signing.now);
  return nextTargets(repo, next, signing);
}

/** The replaced release-publish keys of targets (key id -> when), for `ota trust show`. */
export function replacedPublishKeysOf(targets: Metadata<Targets>): Record<string, string> {
  return Object.fromEntries(Object.entries(replacedPublishKeys(signedJSON(targets))).map(([id, r]) => [id, r.replaced]));
}

function retire(json: SignedJSON, keyID: string, key: Record<string, unknown>, now: Date): SignedJSON {
  return { ...json, [REPLACED_PUBLISH_KEYS_FIELD]: { ...replacedPublishKeys(json), [keyID]: { replaced: tufTime(now), key } } };
}

/** Drops the old key from the delegations' key table unless another role (a release signer) still names it. */
function withoutKey(json: SignedJSON, keyID: string): SignedJSON {
  const delegations = structuredClone(json.delegations) as { keys: Record<string, unknown>; roles: Array<{ name: string; keyids: string[] }> };
  if (!delegations.roles.some((r) => r.name !== PUBLISH_ROLE && r.keyids.includes(keyID))) delete delegations.keys[keyID];
  return { ...json, delegations };
}
