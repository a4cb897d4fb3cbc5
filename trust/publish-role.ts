// The worker without the targets key (docs/trust.md, "Roles"). Top-level targets, signed by the offline
// targets key, delegates one role, `release-publish`, to an online key the worker holds, for the paths
// of release manifests only. That role's metadata (`N.release-publish.json`) lists the published
// manifests as its targets; everything that decides who may sign (the release signers, their hardware
// ids, the channel thresholds, the revoked signers) stays in top-level targets. So a stolen worker can
// list manifests, but a device still requires the manifest's signer to be a release signer the offline
// key listed, and its Sigstore bundle to verify under that signer; it cannot add a signer or lower a
// threshold (those need a targets version signed by the targets key).
import type { Metadata, Targets } from '@tufjs/models';
import { Key, MetadataKind } from '@tufjs/models';
import { signedJSON, unsigned, type SignedJSON } from './metadata.js';

export const PUBLISH_ROLE = 'release-publish';
/**
 * The paths the publish role is delegated (TUF patterns, `*` is one segment): release manifests, and the
 * on-demand deltas beside them (release/on-demand-delta.ts), which the worker makes after publishing.
 */
export const PUBLISH_PATHS = ['releases/*/*/manifest.json', 'releases/*/*/on-demand/*'];
/** The role's file name in snapshot meta and in the store (`N.release-publish.json`). */
export const PUBLISH_FILE = `${PUBLISH_ROLE}.json`;

interface RoleJSON {
  name: string;
  keyids: string[];
  threshold: number;
  terminating: boolean;
  paths: string[];
}
interface DelegationsJSON {
  keys: Record<string, Record<string, unknown>>;
  roles: RoleJSON[];
}

/** The publish role's delegation in top-level targets JSON, if it delegates one. */
export function publishDelegationOf(json: SignedJSON): { role: RoleJSON; keys: Record<string, Record<string, unknown>> } | undefined {
  const delegations = json.delegations as DelegationsJSON | undefined;
  const role = delegations?.roles.find((r) => r.name === PUBLISH_ROLE);
  if (!role) return undefined;
  return { role, keys: Object.fromEntries(role.keyids.flatMap((id) => (delegations!.keys[id] ? [[id, delegations!.keys[id]!]] : []))) };
}

/**
 * Release-publish keys targets delegated the role to and then replaced (rotate-publish-key) or revoked
 * (revoke-publish): key id -> when, and the key itself, so a verifier can tell a role still signed by
 * one (TUF_PUBLISH_KEY_REPLACED) from a role signed by nobody it knows. A replaced key never comes back.
 */
export const REPLACED_PUBLISH_KEYS_FIELD = 'x-edge-ota-replaced-publish-keys';
/** When targets stopped delegating release manifests (revoke-publish): the worker cannot publish. */
export const PUBLISHING_REVOKED_FIELD = 'x-edge-ota-publishing-revoked';

export interface ReplacedPublishKey {
  replaced: string;
  key: Record<string, unknown>;
}

export function replacedPublishKeys(json: SignedJSON): Record<string, ReplacedPublishKey> {
  return (json[REPLACED_PUBLISH_KEYS_FIELD] as Record<string, ReplacedPublishKey> | undefined) ?? {};
}

/** The key id targets delegates the publish role to, if it delegates it. */
export function publishKeyIDOf(targets: Metadata<Targets>): string | undefined {
  return publishDelegationOf(signedJSON(targets))?.role.keyids[0];
}

/** The replaced release-publish key (id and when) whose signature over `published` verifies, if any. */
export function replacedKeyThatSigned(targets: Metadata<Targets>, published: Metadata<Targets>): { keyID: string; replaced: string } | undefined {
  const replaced = replacedPublishKeys(signedJSON(targets));
  for (const keyID of Object.keys(published.signatures)) {
    const entry = replaced[keyID];
    if (!entry) continue;
    try {
      Key.fromJSON(keyID, entry.key as never).verifySignature(published);
      return { keyID, replaced: entry.replaced };
    } catch {
      // A signature that only names the key id is not the replaced key's: not this cause.
    }
  }
  return undefined;
}

export function delegatesPublishing(targets: Metadata<Targets>): boolean {
  return publishDelegationOf(signedJSON(targets)) !== undefined;
}

/** `delegations` with the publish role (first, so it is looked up before the signer roles) delegated to `keyID`. */
export function withPublishDelegation(delegations: DelegationsJSON, keyID: string, key: Record<string, unknown>): DelegationsJSON {
  const others = delegations.roles.filter((r) => r.name !== PUBLISH_ROLE);
  return {
    keys: { ...delegations.keys, [keyID]: key },
    roles: [{ name: PUBLISH_ROLE, keyids: [keyID], threshold: 1, terminating: true, paths: PUBLISH_PATHS }, ...others],
  };
}

/** Carries the publish role (and its key) of `before` over into rebuilt signer delegations. */
export function keepPublishDelegation(before: SignedJSON, after: DelegationsJSON): DelegationsJSON {
  const publish = publishDelegationOf(before);
  if (!publish) return after;
  const [keyID] = publish.role.keyids;
  return withPublishDelegation(after, keyID!, publish.keys[keyID!]!);
}

/**
 * What verifiers look release manifests up in: top-level targets (who signs, thresholds, and the
 * manifests listed before the publish role existed) with the publish role's entries added, only those
 * under its delegated paths (a re-listed manifest, e.g. re-signed after a revocation, replaces the old
 * top-level entry). The role's own delegations and fields are ignored: it cannot name signers or set
 * thresholds, and every entry's signer is still checked against top-level targets. A view for lookups, not metadata to sign or store.
 */
export function releaseView(targets: Metadata<Targets>, published: Metadata<Targets> | undefined): Metadata<Targets> {
  // After revoke-publish the last role version stays pinned by the snapshot (its version must not go back) but counts for nothing.
  if (!published || !delegatesPublishing(targets)) return targets;
  const json = signedJSON(targets);
  const own = json.targets as Record<string, unknown>;
  const delegated = Object.fromEntries(Object.entries(signedJSON(published).targets as Record<string, unknown>).filter(([path]) => PUBLISH_PATHS.some((p) => pathMatches(p, path))));
  json.targets = { ...own, ...delegated };
  return unsigned(MetadataKind.Targets, json);
}

/** The role whose entry for a manifest verifiers use (as releaseView picks it). */
export function entryRole(targets: Metadata<Targets>, published: Metadata<Targets> | undefined, path: string): 'targets' | 'published' | undefined {
  if (published?.signed.targets[path] && delegatesPublishing(targets) && PUBLISH_PATHS.some((p) => pathMatches(p, path))) return 'published';
  if (targets.signed.targets[path]) return 'targets';
  return undefined;
}

function pathMatches(pattern: string, path: string): boolean {
  const want = pattern.split('/');
  const have = path.split('/');
  return want.length === have.length && want.every((segment, i) => segment === '*' || segment === have[i]);
}
