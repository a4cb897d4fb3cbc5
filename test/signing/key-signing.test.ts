// Key mode (air-gapped): generated key on disk, streamed blob signing, offline verification
// with our module, and cosign interop on the same bundle.
import { statSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE_V03_MEDIA_TYPE, bundleToText } from '../../signing/bundle-json.js';
import { MalformedBundleError, TamperedArtifactError, WrongKeyError, ArtifactRequiredError } from '../../signing/errors.js';
import { loadOrCreateSigningKey, publicKeyPathFor, type SigningKey } from '../../signing/keys.js';
import { signBlob } from '../../signing/message-signature.js';
import { pinPublicKeyInFile, readTrustRoot, sigstoreTrustedRootJSON, type LocalTrustRootJSON } from '../../signing/trust-root.js';
import { verifyBundle } from '../../signing/verify.js';
import { cosign } from '../support/signing-cosign.js';

let dir: string;
let key: SigningKey & { created: boolean };
let trustRootPath: string;
let firmware: string;
let bundlePath: string;
let bundleJSON: unknown;
let root: LocalTrustRootJSON;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'signing-key-'));
  trustRootPath = join(dir, 'trust', 'trusted_root.json');
  key = await loadOrCreateSigningKey(join(dir, 'keys', 'release.key'));
  await pinPublicKeyInFile(trustRootPath, key.publicKey);
  root = await readTrustRoot(trustRootPath);
  firmware = join(dir, 'fw.bin');
  // A few MiB so the streamed path really crosses chunk boundaries.
  await writeFile(firmware, Buffer.alloc(3 * 1024 * 1024 + 17, 0xa5));
  const bundle = await signBlob({ path: firmware }, { mode: 'key', key });
  bundlePath = join(dir, 'fw.bin.sigstore.json');
  await writeFile(bundlePath, bundleToText(bundle));
  bundleJSON = JSON.parse(await readFile(bundlePath, 'utf8'));
});

describe('key generation and pinning', () => {
  it('creates the private key with mode 0600 and reuses it', async () => {
    expect(key.created).toBe(true);
    expect(statSync(join(dir, 'keys', 'release.key')).mode & 0o777).toBe(0o600);
    const again = await loadOrCreateSigningKey(join(dir, 'keys', 'release.key'));
    expect(again.created).toBe(false);
    expect(again.hint).toBe(key.hint);
    expect(await readFile(publicKeyPathFor(join(dir, 'keys', 'release.key')), 'utf8')).toBe(key.publicKeyPem);
  });

  it('pins the public key in the trust root idempotently', async () => {
    expect(Object.keys(root.pinnedKeys ?? {})).toEqual([key.hint]);
    expect(root.pinnedKeys?.[key.hint]?.keyDetails).toBe('PKIX_ECDSA_P256_SHA_256');
    const before = await readFile(trustRootPath, 'utf8');
    await pinPublicKeyInFile(trustRootPath, key.publicKey);
    expect(await readFile(trustRootPath, 'utf8')).toBe(before);
  });
});

describe('message signature bundle', () => {
  it('is a v0.3 bundle with a key hint and no tlog entries', () => {
    const b = bundleJSON as { mediaType: string; verificationMaterial: { publicKey: { hint: string }; tlogEntries?: unknown[] } };
    expect(b.mediaType).toBe(BUNDLE_V03_MEDIA_TYPE);
    expect(b.verificationMaterial.publicKey.hint).toBe(key.hint);
    expect(b.verificationMaterial.tlogEntries ?? []).toEqual([]);
  });

  it('verifies streamed from the file and from bytes', async () => {
    const policy = { mode: 'key' as const, allowedKeyHints: [key.hint] };
    const fromFile = await verifyBundle({ bundle: bundleJSON, artifact: { path: firmware }, trustRoot: root, policy });
    expect(fromFile.signer).toEqual({ mode: 'key', hint: key.hint });
    const fromBytes = await verifyBundle({ bundle: bundleJSON, artifact: { bytes: await readFile(firmware) }, trustRoot: root, policy });
    expect(fromBytes.artifactSha256).toBe(fromFile.artifactSha256);
  });

  it('rejects a tampered artifact', async () => {
    const tamperedPath = join(dir, 'fw-tampered.bin');
    const bytes = await readFile(firmware);
    bytes[bytes.length - 1] ^= 0x01;
    await writeFile(tamperedPath, bytes);
    const policy = { mode: 'key' as const, allowedKeyHints: [key.hint] };
    await expect(verifyBundle({ bundle: bundleJSON, artifact: { path: tamperedPath }, trustRoot: root, policy })).rejects.toBeInstanceOf(TamperedArtifactError);
    await expect(verifyBundle({ bundle: bundleJSON, artifact: { bytes }, trustRoot: root, policy })).rejects.toBeInstanceOf(TamperedArtifactError);
  });

  it('rejects a bundle signed by another key', async () => {
    const other = await loadOrCreateSigningKey(join(dir, 'keys', 'other.key'));
    const otherBundle = await signBlob({ path: firmware }, { mode: 'key', key: other });
    const policy = { mode: 'key' as const, allowedKeyHints: [key.hint] };
    await expect(verifyBundle({ bundle: bundleToText(otherBundle), artifact: { path: firmware }, trustRoot: root, policy })).rejects.toBeInstanceOf(WrongKeyError);
    // Another key claiming the pinned key's hint: the signature check catches it.
    const forged = JSON.parse(bundleToText(otherBundle));
    forged.verificationMaterial.publicKey.hint = key.hint;
    await expect(verifyBundle({ bundle: forged, artifact: { path: firmware }, trustRoot: root, policy })).rejects.toBeInstanceOf(WrongKeyError);
  });

  it('rejects a pinned key that the policy does not allow', async () => {
    const policy = { mode: 'key' as const, allowedKeyHints: ['not-this-one'] };
    await expect(verifyBundle({ bundle: bundleJSON, artifact: { path: firmware }, trustRoot: root, policy })).rejects.toBeInstanceOf(WrongKeyError);
  });

  it('rejects a pinned key that has been retired', async () => {
    const retired = structuredClone(root);
    retired.pinnedKeys![key.hint]!.validFor = { start: '2020-01-01T00:00:00Z', end: '2021-01-01T00:00:00Z' };
    const policy = { mode: 'key' as const, allowedKeyHints: [key.hint] };
    await expect(verifyBundle({ bundle: bundleJSON, artifact: { path: firmware }, trustRoot: retired, policy })).rejects.toThrow(/not valid now/);
  });

  it('rejects malformed bundles', async () => {
    const policy = { mode: 'key' as const, allowedKeyHints: [key.hint] };
    const noContent = { ...(bundleJSON as object), messageSignature: undefined };
    await expect(verifyBundle({ bundle: noContent, artifact: { path: firmware }, trustRoot: root, policy })).rejects.toBeInstanceOf(MalformedBundleError);
    await expect(verifyBundle({ bundle: '{not json', artifact: { path: firmware }, trustRoot: root, policy })).rejects.toBeInstanceOf(MalformedBundleError);
    const v02 = { ...(bundleJSON as object), mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.2' };
    await expect(verifyBundle({ bundle: v02, artifact: { path: firmware }, trustRoot: root, policy })).rejects.toBeInstanceOf(MalformedBundleError);
  });

  it('refuses to accept a digest alone for a message signature', async () => {
    const policy = { mode: 'key' as const, allowedKeyHints: [key.hint] };
    const { artifactSha256 } = await verifyBundle({ bundle: bundleJSON, artifact: { path: firmware }, trustRoot: root, policy });
    await expect(verifyBundle({ bundle: bundleJSON, artifact: { sha256: artifactSha256 }, trustRoot: root, policy })).rejects.toBeInstanceOf(ArtifactRequiredError);
  });
});

describe('cosign interop (key mode)', () => {
  it('cosign verify-blob accepts the bundle with the public key', async () => {
    const result = await cosign(['verify-blob', '--key', publicKeyPathFor(join(dir, 'keys', 'release.key')), '--bundle', bundlePath, '--insecure-ignore-tlog', firmware]);
    expect(result.stderr).toContain('Verified OK');
    expect(result.ok).toBe(true);
  });

  it('cosign verify-blob rejects a tampered file', async () => {
    const result = await cosign(['verify-blob', '--key', publicKeyPathFor(join(dir, 'keys', 'release.key')), '--bundle', bundlePath, '--insecure-ignore-tlog', join(dir, 'fw-tampered.bin')]);
    expect(result.ok).toBe(false);
  });

  it('the standard part of the trust root is what cosign reads', () => {
    expect(sigstoreTrustedRootJSON(root)).not.toHaveProperty('pinnedKeys');
  });
});

describe('signing from config (embedded default)', () => {
  it('creates and pins the key on first use, then signs and verifies a manifest from bytes', async () => {
    const { signingConfigSchema, trustConfigSchema } = await import('../../schemas/config.js');
    const { signingModeFromConfig, pinnedKeysPolicy } = await import('../../signing/from-config.js');
    const base = await mkdtemp(join(tmpdir(), 'signing-config-'));
    const signing = signingConfigSchema.parse({ keyPath: join(base, 'state', 'signing.key') });
    const trust = trustConfigSchema.parse({ trustedRootPath: join(base, 'state', 'trusted_root.json') });
    const mode = await signingModeFromConfig(signing, trust);
    if (mode.mode !== 'key') throw new Error('default mode should be key');
    expect(statSync(signing.keyPath).mode & 0o777).toBe(0o600);
    const again = await signingModeFromConfig(signing, trust);
    expect(again.mode === 'key' && again.key.hint).toBe(mode.key.hint);
    const trustRoot = await readTrustRoot(trust.trustedRootPath);
    expect(Object.keys(trustRoot.pinnedKeys ?? {})).toEqual([mode.key.hint]);
    const manifest = Buffer.from(JSON.stringify({ version: '1.4.0', image: 'fw.bin' }));
    const bundle = await signBlob({ bytes: manifest }, mode);
    const result = await verifyBundle({ bundle: bundleToText(bundle), artifact: { bytes: manifest }, trustRoot, policy: pinnedKeysPolicy(trustRoot) });
    expect(result.signer).toEqual({ mode: 'key', hint: mode.key.hint });
  });
});

describe('trust root management', () => {
  it('merges keyless material without duplicates and keeps pinned keys', async () => {
    const { mergeTrustRoots, emptyTrustRoot, addPinnedKey } = await import('../../signing/trust-root.js');
    const { generateKeyPairSync } = await import('node:crypto');
    const pinned = addPinnedKey(emptyTrustRoot(), key.publicKey).root;
    const keyless = {
      ...emptyTrustRoot(),
      tlogs: [{ baseUrl: 'https://rekor.example', hashAlgorithm: 'SHA2_256', logId: { keyId: 'bG9n' }, publicKey: { rawBytes: 'AA==', keyDetails: 'PKIX_ECDSA_P256_SHA_256' } }],
      certificateAuthorities: [{ uri: 'https://fulcio.example', certChain: { certificates: [{ rawBytes: 'Y2E=' }] } }],
    };
    const merged = mergeTrustRoots(mergeTrustRoots(pinned, keyless), keyless);
    expect(merged.tlogs).toHaveLength(1);
    expect(merged.certificateAuthorities).toHaveLength(1);
    expect(Object.keys(merged.pinnedKeys ?? {})).toEqual([key.hint]);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    expect(() => addPinnedKey(merged, other, { hint: key.hint })).toThrow(/different key/);
  });
});
