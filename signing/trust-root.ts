// The local trust root: a Sigstore trusted_root.json (CAs, Rekor/CT logs, TSAs) plus the
// key-mode public keys this site pins, keyed by hint. Sigstore's TrustedRoot message has no
// field for standalone keys, so they live in an extra top-level `pinnedKeys` map; sigstore-js
// ignores it and sigstoreTrustedRootJSON() strips it for strict parsers (cosign --trusted-root).
import type { KeyObject } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PublicKey, TrustedRoot } from '@sigstore/protobuf-specs';
import { toTrustMaterial, type TrustMaterial } from '@sigstore/verify';
import { publicKeyHint } from './keys.js';

export const TRUSTED_ROOT_MEDIA_TYPE = 'application/vnd.dev.sigstore.trustedroot+json;version=0.1';

/** protobuf-JSON of sigstore.common.v1.PublicKey, as it appears in trusted_root.json. */
export interface PublicKeyJSON {
  rawBytes: string;
  keyDetails: string;
  validFor?: { start?: string; end?: string };
}

export interface TransparencyLogJSON {
  baseUrl: string;
  hashAlgorithm: string;
  publicKey: PublicKeyJSON;
  logId: { keyId: string };
  checkpointKeyId?: { keyId: string };
}

export interface CertificateAuthorityJSON {
  subject?: { organization?: string; commonName?: string };
  uri?: string;
  certChain: { certificates: Array<{ rawBytes: string }> };
  validFor?: { start?: string; end?: string };
}

/** The Sigstore-standard part of the trust root. */
export interface SigstoreTrustedRootJSON {
  mediaType: string;
  tlogs: TransparencyLogJSON[];
  certificateAuthorities: CertificateAuthorityJSON[];
  ctlogs: TransparencyLogJSON[];
  timestampAuthorities: CertificateAuthorityJSON[];
}

export interface LocalTrustRootJSON extends SigstoreTrustedRootJSON {
  /** Key-mode signing keys, keyed by the hint bundles carry in verificationMaterial.publicKey.hint. */
  pinnedKeys?: Record<string, PublicKeyJSON>;
}

export function emptyTrustRoot(): LocalTrustRootJSON {
  return { mediaType: TRUSTED_ROOT_MEDIA_TYPE, tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [], pinnedKeys: {} };
}

/** Reads a trust root; a missing file is an empty root (first run on the embedded default). */
export async function readTrustRoot(path: string): Promise<LocalTrustRootJSON> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyTrustRoot();
    throw err;
  }
  return normalizeTrustRoot(JSON.parse(text) as Partial<LocalTrustRootJSON>);
}

export function normalizeTrustRoot(json: Partial<LocalTrustRootJSON>): LocalTrustRootJSON {
  return {
    mediaType: json.mediaType ?? TRUSTED_ROOT_MEDIA_TYPE,
    tlogs: json.tlogs ?? [],
    certificateAuthorities: json.certificateAuthorities ?? [],
    ctlogs: json.ctlogs ?? [],
    timestampAuthorities: json.timestampAuthorities ?? [],
    pinnedKeys: json.pinnedKeys ?? {},
  };
}

/** Writes atomically (temp file + rename) so a verifier never reads half a root. */
export async function writeTrustRoot(path: string, root: LocalTrustRootJSON): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(root, null, 2)}\n`, { mode: 0o644 });
  await rename(tmp, path);
}

/** The root without our `pinnedKeys` extension: what cosign --trusted-root and other Sigstore clients read. */
export function sigstoreTrustedRootJSON(root: LocalTrustRootJSON): SigstoreTrustedRootJSON {
  const { pinnedKeys: _pinned, ...standard } = root;
  return standard;
}

/** Writes the cosign-readable copy of the root (cosign's protojson parser rejects unknown fields). */
export async function writeSigstoreTrustedRoot(path: string, root: LocalTrustRootJSON): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(sigstoreTrustedRootJSON(root), null, 2)}\n`, { mode: 0o644 });
}

export class PinnedKeyConflictError extends Error {
  constructor(readonly hint: string) {
    super(`trust root already pins a different key under hint ${hint}`);
    this.name = 'PinnedKeyConflictError';
  }
}

/**
 * Pins an ECDSA P-256 public key under its hint. Idempotent: pinning the same key again
 * changes nothing (the original validFor.start is kept); a different key under the same hint is refused.
 */
export function addPinnedKey(
  root: LocalTrustRootJSON,
  publicKey: KeyObject,
  options: { hint?: string; validFrom?: Date } = {},
): { root: LocalTrustRootJSON; hint: string; added: boolean } {
  const hint = options.hint ?? publicKeyHint(publicKey);
  const rawBytes = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
  const existing = root.pinnedKeys?.[hint];
  if (existing) {
    if (existing.rawBytes !== rawBytes) throw new PinnedKeyConflictError(hint);
    return { root, hint, added: false };
  }
  const pinned: PublicKeyJSON = {
    rawBytes,
    keyDetails: 'PKIX_ECDSA_P256_SHA_256',
    validFor: { start: (options.validFrom ?? new Date()).toISOString() },
  };
  return { root: { ...root, pinnedKeys: { ...root.pinnedKeys, [hint]: pinned } }, hint, added: true };
}

/** Read-modify-write of the trust root file to pin a key; returns the hint. */
export async function pinPublicKeyInFile(path: string, publicKey: KeyObject, options: { hint?: string; validFrom?: Date } = {}): Promise<string> {
  const result = addPinnedKey(await readTrustRoot(path), publicKey, options);
  if (result.added) await writeTrustRoot(path, result.root);
  return result.hint;
}

function unionBy<T>(current: T[], incoming: T[], key: (item: T) => string): T[] {
  const seen = new Set(current.map(key));
  const merged = [...current];
  for (const item of incoming) {
    const k = key(item);
    if (!seen.has(k)) {
      seen.add(k);
      merged.push(item);
    }
  }
  return merged;
}

const logKey = (log: TransparencyLogJSON) => log.logId.keyId;
const caKey = (ca: CertificateAuthorityJSON) => ca.certChain.certificates.map((c) => c.rawBytes).join('|');

/**
 * Merges keyless trust material (Fulcio CAs, Rekor logs, CT logs, TSAs) from another
 * trusted_root.json, e.g. the public-good root or a private Sigstore deployment. Entries
 * already present (same log id / same certificate chain) are not duplicated; pinned keys are unioned.
 */
export function mergeTrustRoots(root: LocalTrustRootJSON, other: Partial<LocalTrustRootJSON>): LocalTrustRootJSON {
  const incoming = normalizeTrustRoot(other);
  for (const [hint, key] of Object.entries(incoming.pinnedKeys ?? {})) {
    const existing = root.pinnedKeys?.[hint];
    if (existing && existing.rawBytes !== key.rawBytes) throw new PinnedKeyConflictError(hint);
  }
  return {
    mediaType: root.mediaType,
    tlogs: unionBy(root.tlogs, incoming.tlogs, logKey),
    certificateAuthorities: unionBy(root.certificateAuthorities, incoming.certificateAuthorities, caKey),
    ctlogs: unionBy(root.ctlogs, incoming.ctlogs, logKey),
    timestampAuthorities: unionBy(root.timestampAuthorities, incoming.timestampAuthorities, caKey),
    pinnedKeys: { ...incoming.pinnedKeys, ...root.pinnedKeys },
  };
}

/** Converts the JSON root into @sigstore/verify trust material (protobuf parsing, pinned keys by hint). */
export function trustMaterialFrom(root: LocalTrustRootJSON): TrustMaterial {
  const keys: Record<string, PublicKey> = {};
  for (const [hint, key] of Object.entries(root.pinnedKeys ?? {})) keys[hint] = PublicKey.fromJSON(key);
  return toTrustMaterial(TrustedRoot.fromJSON(sigstoreTrustedRootJSON(root)), keys);
}
