// The pure parts of keyless release signers (trust/keyless-signers.ts): the TUF key entry and its id,
// matching a certificate identity (anchored pattern, exact issuer, hardware scope), the policy a
// manifest bundle is then verified with, and that a listed keyless approval counts only once its bundle verifies.
import { createHash } from 'node:crypto';
import { canonicalize } from '@tufjs/canonical-json';
import { MetadataKind } from '@tufjs/models';
import { describe, expect, it } from 'vitest';
import { emptyTrustRoot } from '../../signing/trust-root.js';
import { identityMatches, keylessSignerKey, matchKeylessSigner, releaseSignerPolicy } from '../../trust/keyless-signers.js';
import { signedJSON, unsigned } from '../../trust/metadata.js';
import { releaseSignatures } from '../../trust/release-approvals.js';
import { releaseSigners, scopeOf } from '../../trust/release-signers.js';
import { addSigner, addTarget, createRepository } from '../../trust/repository.js';
import { newTufKey } from '../support/fleet-tuf.js';

const ISSUER = 'https://token.actions.githubusercontent.com';
const PATTERN = 'https://github\\.com/acme/fw/\\.github/workflows/release\\.yml@refs/tags/v.+';
const CI = 'https://github.com/acme/fw/.github/workflows/release.yml@refs/tags/v2.0.0';
const now = new Date();
const [root, targetsKey, online, releaseKey] = Array.from({ length: 4 }, newTufKey);
const signing = { targetsKeys: [targetsKey!], onlineKey: online!, now };
const path = 'releases/gw-a/2.0.0/manifest.json';

describe('keyless release signers (trust/keyless-signers.ts)', () => {
  it('is a TUF key of type sigstore-oidc whose id is the sha256 of its canonical JSON', () => {
    const { keyID, key } = keylessSignerKey(ISSUER, PATTERN);
    const body = { keytype: 'sigstore-oidc', scheme: 'Fulcio', keyval: { identity: PATTERN, issuer: ISSUER } };
    expect(key.toJSON()).toEqual(body);
    expect(keyID).toBe(createHash('sha256').update(canonicalize(body)).digest('hex'));
    expect(keylessSignerKey(ISSUER, `${PATTERN}x`).keyID).not.toBe(keyID);
  });

  it('matches the whole identity and the exact issuer only', () => {
    const listed = { issuer: ISSUER, identity: PATTERN };
    expect(identityMatches(listed, { identity: CI, issuer: ISSUER })).toBe(true);
    expect(identityMatches(listed, { identity: `${CI}/../evil`, issuer: ISSUER })).toBe(true); // `.+` is the operator's choice
    expect(identityMatches(listed, { identity: `https://evil.example/?${CI}`, issuer: ISSUER })).toBe(false);
    expect(identityMatches(listed, { identity: CI.replace('refs/tags/v2.0.0', 'refs/heads/main'), issuer: ISSUER })).toBe(false);
    expect(identityMatches(listed, { identity: CI, issuer: `${ISSUER}/` })).toBe(false);
  });

  it('finds the listed signer for its hardware ids: unknown identity and out-of-scope have their own codes', () => {
    const scoped = keylessSignerKey(ISSUER, PATTERN);
    let repo = createRepository({ ...signing, rootKeys: [root!], threshold: 1, signers: [releaseKey!] });
    repo = addSigner(repo, scoped, signing, scopeOf(['gw-a']));
    expect(matchKeylessSigner(repo.targets, { identity: CI, issuer: ISSUER }, path)).toBe(scoped.keyID);
    expect(() => matchKeylessSigner(repo.targets, { identity: CI, issuer: 'https://accounts.google.com' }, path)).toThrow(expect.objectContaining({ code: 'TUF_UNKNOWN_SIGNER' }));
    expect(() => matchKeylessSigner(repo.targets, { identity: CI, issuer: ISSUER }, 'releases/gw-b/2.0.0/manifest.json')).toThrow(expect.objectContaining({ code: 'TUF_SIGNER_OUT_OF_SCOPE' }));
    expect(releaseSigners(repo.targets).map(([id]) => id)).toContain(scoped.keyID);
  });

  it('verifies a keyless target against the Sigstore root (pinned keys dropped), a key target against its key alone', () => {
    const { keyID, key } = keylessSignerKey(ISSUER, PATTERN);
    const sigstore = { ...emptyTrustRoot(), pinnedKeys: { stale: { rawBytes: 'AA==', keyDetails: 'PKIX_ECDSA_P256_SHA_256' } } };
    const keyless = releaseSignerPolicy(keyID, key.toJSON() as Record<string, unknown>, sigstore);
    expect(keyless.policy).toEqual({ mode: 'keyless', certificateIdentity: '', certificateIdentityPattern: PATTERN, certificateIssuer: ISSUER });
    expect(keyless.trustRoot.pinnedKeys).toEqual({});
    const keyed = releaseSignerPolicy(releaseKey!.keyID, releaseKey!.key.toJSON() as Record<string, unknown>, sigstore);
    expect(keyed.policy).toEqual({ mode: 'key', allowedKeyHints: [releaseKey!.hint] });
    expect(Object.keys(keyed.trustRoot.pinnedKeys!)).toEqual([releaseKey!.hint]);
  });

  it('a keyless approval listed in the entry counts only when its bundle verifies against the Sigstore root, never without a root, and never for the publishing entry', () => {
    const manifest = Buffer.from('{"version":"2.0.0"}');
    const engineers = keylessSignerKey('https://accounts.google.com', 'eng@acme\\.example');
    let repo = createRepository({ ...signing, rootKeys: [root!], threshold: 1, signers: [releaseKey!] });
    repo = addSigner(repo, engineers, signing);
    repo = addTarget(repo, { path, length: manifest.length, sha256: createHash('sha256').update(manifest).digest('hex'), signerKeyID: releaseKey!.keyID }, signing);
    const json = signedJSON(repo.targets);
    const entry = (json.targets as Record<string, { custom: Record<string, unknown> }>)[path]!;
    entry.custom.keylessApprovals = { [engineers.keyID]: { not: 'verified here' }, [releaseKey!.keyID]: {} };
    const targets = unsigned(MetadataKind.Targets, json);
    expect(releaseSignatures(targets, path, manifest)).toEqual([releaseKey!.keyID]);
    // With a Sigstore root the bundle must verify: this one does not, so it does not count.
    expect(releaseSignatures(targets, path, manifest, emptyTrustRoot())).toEqual([releaseKey!.keyID]);
  });

  it('refuses an issuer that is not https and a pattern that names no identity', () => {
    expect(() => keylessSignerKey('not a url', PATTERN)).toThrow(expect.objectContaining({ code: 'TUF_INVALID_CHANGE' }));
    expect(() => keylessSignerKey('http://issuer.example', PATTERN)).toThrow(expect.objectContaining({ code: 'TUF_INVALID_CHANGE' }));
    expect(() => keylessSignerKey(ISSUER, '.+')).toThrow(expect.objectContaining({ code: 'TUF_INVALID_CHANGE' }));
  });
});
