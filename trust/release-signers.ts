// The release signers: keys of delegated roles in targets (TUF spec 4.5). Role `releases` holds the
// signers of every product line; role `releases-for-<hardware id>` the signers limited to one, by the
// TUF path pattern `releases/<hardware id>/*/manifest.json`, so a product line's CI key cannot sign
// (or approve) another line's releases. A key may sit in several hardware roles. Pure functions over
// targets JSON; revoked signers are remembered beside them.
import type { Metadata, Targets } from '@tufjs/models';
import { hardwareIdSchema } from '../schemas/manifest.js';
import { TufInvalidChangeError, TufSignerOutOfScopeError, TufSignerRevokedError, TufUnknownSignerError } from './errors.js';
import { signedJSON, type SignedJSON } from './metadata.js';

export const RELEASE_SIGNERS_ROLE = 'releases';
const SCOPED_ROLE_PREFIX = 'releases-for-';
/** Key ids once listed as release signers and revoked, with when: their releases get TUF_SIGNER_REVOKED. */
export const REVOKED_FIELD = 'x-edge-ota-revoked-signers';

/** Every hardware id, or the listed ones. */
export type SignerScope = 'all' | string[];

export interface ReleaseSigner {
  keyID: string;
  key: Record<string, unknown>;
  scope: SignerScope;
}

interface DelegationsJSON {
  keys: Record<string, Record<string, unknown>>;
  roles: Array<{ name: string; keyids: string[]; threshold: number; terminating: boolean; paths: string[] }>;
}

/** The release signers a targets document lists, each with its scope. */
export function signersOf(json: SignedJSON): ReleaseSigner[] {
  const delegations = json.delegations as DelegationsJSON | undefined;
  const scopes = new Map<string, SignerScope>();
  for (const role of delegations?.roles ?? []) {
    const hardware = role.name === RELEASE_SIGNERS_ROLE ? undefined : role.name.startsWith(SCOPED_ROLE_PREFIX) ? role.name.slice(SCOPED_ROLE_PREFIX.length) : null;
    if (hardware === null) continue;
    for (const id of role.keyids) {
      const before = scopes.get(id);
      scopes.set(id, hardware === undefined || before === 'all' ? 'all' : [...(before ?? []), hardware]);
    }
  }
  return [...scopes].flatMap(([keyID, scope]) => (delegations!.keys[keyID] ? [{ keyID, key: delegations!.keys[keyID]!, scope }] : []));
}

/** The delegations of targets that list exactly these signers. */
export function signersDelegation(signers: ReleaseSigner[]): DelegationsJSON {
  const role = (name: string, keyids: string[], paths: string[]) => ({ name, keyids, threshold: 1, terminating: true, paths });
  const unscoped = signers.filter((s) => s.scope === 'all').map((s) => s.keyID);
  const hardware = [...new Set(signers.flatMap((s) => (s.scope === 'all' ? [] : s.scope)))].sort();
  return {
    keys: Object.fromEntries(signers.map((s) => [s.keyID, s.key])),
    roles: [
      role(RELEASE_SIGNERS_ROLE, unscoped, ['releases/*/*/manifest.json']),
      ...hardware.map((hw) => role(`${SCOPED_ROLE_PREFIX}${hw}`, signers.filter((s) => s.scope !== 'all' && s.scope.includes(hw)).map((s) => s.keyID), [`releases/${hw}/*/manifest.json`])),
    ],
  };
}

/** A scope from `--hardware` ids (none: all); each must be a hardware id. */
export function scopeOf(hardware: readonly string[] | undefined): SignerScope {
  if (!hardware || hardware.length === 0) return 'all';
  for (const id of hardware) {
    if (!hardwareIdSchema.safeParse(id).success) throw new TufInvalidChangeError(`"${id}" is not a hardware id (a-z, 0-9, ".", "_", "-")`);
  }
  return [...new Set(hardware)].sort();
}

export function describeScope(scope: SignerScope): string {
  return scope === 'all' ? 'every hardware id' : `hardware ${scope.join(', ')} only`;
}

/** The release signers' keys today, as [key id, key JSON] pairs. */
export function releaseSigners(targets: Metadata<Targets>): Array<[string, Record<string, unknown>]> {
  return signersOf(signedJSON(targets)).map((s) => [s.keyID, s.key]);
}

export function revokedSignersOf(targets: Metadata<Targets>): Record<string, string> {
  return revokedSigners(signedJSON(targets));
}

export function revokedSigners(json: SignedJSON): Record<string, string> {
  return (json[REVOKED_FIELD] as Record<string, string> | undefined) ?? {};
}

/**
 * TUF_SIGNER_REVOKED for a revoked key, TUF_UNKNOWN_SIGNER for a key never listed (both name the key
 * id); with `path` (a manifest's store path), TUF_SIGNER_OUT_OF_SCOPE when no role of the key covers it.
 */
export function assertReleaseSigner(targets: Metadata<Targets>, keyID: string, path?: string): void {
  const json = signedJSON(targets);
  const signer = signersOf(json).find((s) => s.keyID === keyID);
  if (!signer) {
    const revokedAt = revokedSigners(json)[keyID];
    if (revokedAt) throw new TufSignerRevokedError(`release signer ${keyID} was revoked at ${revokedAt} (targets version ${targets.signed.version})`);
    throw new TufUnknownSignerError(`key ${keyID} is not a release signer of targets version ${targets.signed.version}: add it with \`ota trust add-signer\``);
  }
  if (path === undefined || signerCovers(json, keyID, path)) return;
  throw new TufSignerOutOfScopeError(`release signer ${keyID} signs for ${describeScope(signer.scope)}, not ${path}`);
}

/** Does one of the key's release roles delegate this path (TUF patterns: `*` is one path segment)? */
export function signerCovers(json: SignedJSON, keyID: string, path: string): boolean {
  const roles = (json.delegations as DelegationsJSON | undefined)?.roles ?? [];
  return roles.some((r) => (r.name === RELEASE_SIGNERS_ROLE || r.name.startsWith(SCOPED_ROLE_PREFIX)) && r.keyids.includes(keyID) && r.paths.some((p) => pathMatches(p, path)));
}

function pathMatches(pattern: string, path: string): boolean {
  const want = pattern.split('/');
  const have = path.split('/');
  return want.length === have.length && want.every((segment, i) => segment === '*' || segment === have[i]);
}
