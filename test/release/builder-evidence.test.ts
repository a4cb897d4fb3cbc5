// The pure builder-evidence decision: which facts are acceptable under which policy, and what a rejection names.
import { describe, expect, it } from 'vitest';
import { judgeBuilderEvidence, signerAllowed, type BuilderEvidenceFacts, type BundleFacts } from '../../release/builder-evidence.js';
import { SLSA_PROVENANCE_V1 } from '../../signing/provenance.js';
import type { SignerPolicy } from '../../signing/verify.js';

const IMAGE = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);
const KEY: SignerPolicy = { mode: 'key', allowedKeyHints: ['builder-hint'] };
const CI = 'https://github.com/acme/fw/.github/workflows/release.yml@refs/tags/v1.4.0';
const ISSUER = 'https://token.actions.githubusercontent.com';
const KEYLESS: SignerPolicy = {
  mode: 'keyless',
  certificateIdentity: '',
  certificateIdentityPattern: 'https://github\\.com/acme/fw/\\.github/workflows/release\\.yml@refs/tags/v.*',
  certificateIssuer: ISSUER,
};

const signedImage = (signer: Extract<BundleFacts, { status: 'verified' }>['signer'] = { mode: 'key', hint: 'builder-hint' }, sha = IMAGE): BundleFacts => ({ status: 'verified', artifactSha256: sha, signer });
const signedProvenance = (
  subjects = [IMAGE],
  signer: Extract<BundleFacts, { status: 'verified' }>['signer'] = { mode: 'key', hint: 'builder-hint' },
  predicateType = SLSA_PROVENANCE_V1,
  externalParameters: Record<string, unknown> = { ...RELEASE, repository: 'acme/fw' },
): BundleFacts => ({ status: 'verified', artifactSha256: subjects[0] ?? IMAGE, signer, predicateType, subjectSha256s: subjects, externalParameters });
const RELEASE = { hardwareId: 'edge-gw-x1', version: '1.0.0', channel: 'stable' };
const facts = (over: Partial<BuilderEvidenceFacts> = {}): BuilderEvidenceFacts => ({ imageSha256: IMAGE, release: RELEASE, imageSignature: signedImage(), provenance: signedProvenance(), ...over });

describe('judgeBuilderEvidence', () => {
  it('accepts an image and provenance signed by the allowed key, naming the signer', () => {
    expect(judgeBuilderEvidence(KEY, facts())).toEqual({ ok: true, signer: 'key builder-hint' });
  });

  it('accepts a keyless CI identity matching the whole subject pattern and the exact issuer', () => {
    const ci = { mode: 'keyless' as const, identity: CI, issuer: ISSUER };
    expect(judgeBuilderEvidence(KEYLESS, facts({ imageSignature: signedImage(ci), provenance: signedProvenance([IMAGE], ci) }))).toMatchObject({ ok: true });
  });

  it.each([
    ['missing-image-signature', facts({ imageSignature: { status: 'missing' } }), /no builder signature over image/],
    ['invalid-image-signature', facts({ imageSignature: { status: 'invalid', code: 'WRONG_KEY', message: 'signing key x is not pinned and allowed' } }), /does not verify.*WRONG_KEY/],
    ['image-digest-mismatch', facts({ imageSignature: signedImage(undefined, OTHER) }), /covers sha256:b+, not image/],
    ['image-signer-not-allowed', facts({ imageSignature: signedImage({ mode: 'key', hint: 'release-hint' }) }), /signed by key release-hint/],
    ['missing-provenance', facts({ provenance: { status: 'missing' } }), /no builder provenance/],
    ['invalid-provenance', facts({ provenance: { status: 'invalid', code: 'MALFORMED_BUNDLE', message: 'not JSON' } }), /provenance does not verify/],
    ['provenance-not-slsa', facts({ provenance: signedProvenance([IMAGE], undefined, 'https://example.org/other') }), /predicate type/],
    ['provenance-subject-mismatch', facts({ provenance: signedProvenance([OTHER]) }), /subject digest \(sha256:b+\) is not the image's sha256:a+/],
    ['provenance-release-mismatch', facts({ release: { ...RELEASE, version: '9.0.0' } }), /made for version "1\.0\.0", but the request releases the image as version "9\.0\.0"/],
    ['provenance-release-mismatch', facts({ provenance: signedProvenance([IMAGE], undefined, undefined, {}) }), /made for hardwareId \(none\), version \(none\), channel \(none\)/],
    ['provenance-signer-not-allowed', facts({ provenance: signedProvenance([IMAGE], { mode: 'key', hint: 'someone' }) }), /provenance is signed by key someone/],
  ] as const)('refuses %s', (failure, input, message) => {
    const decision = judgeBuilderEvidence(KEY, input);
    expect(decision).toMatchObject({ ok: false, failure });
    if (!decision.ok) expect(decision.reason).toMatch(message);
  });

  it('checks the image signature before the provenance', () => {
    expect(judgeBuilderEvidence(KEY, facts({ imageSignature: { status: 'missing' }, provenance: { status: 'missing' } }))).toMatchObject({ failure: 'missing-image-signature' });
  });

  it('compares digests without a sha256: prefix or case', () => {
    expect(judgeBuilderEvidence(KEY, facts({ imageSha256: `sha256:${IMAGE.toUpperCase()}` }))).toMatchObject({ ok: true });
  });
});

describe('signerAllowed', () => {
  it('anchors the keyless subject pattern and requires the exact issuer', () => {
    expect(signerAllowed(KEYLESS, { mode: 'keyless', identity: CI, issuer: ISSUER })).toBe(true);
    expect(signerAllowed(KEYLESS, { mode: 'keyless', identity: `https://evil.example/${CI}`, issuer: ISSUER })).toBe(false);
    expect(signerAllowed(KEYLESS, { mode: 'keyless', identity: CI.replace('refs/tags', 'refs/heads'), issuer: ISSUER })).toBe(false);
    expect(signerAllowed(KEYLESS, { mode: 'keyless', identity: CI, issuer: `${ISSUER}.evil` })).toBe(false);
    expect(signerAllowed(KEYLESS, { mode: 'key', hint: 'builder-hint' })).toBe(false);
  });

  it('allows only listed key hints, and no certificate in key mode', () => {
    expect(signerAllowed(KEY, { mode: 'key', hint: 'builder-hint' })).toBe(true);
    expect(signerAllowed(KEY, { mode: 'key', hint: 'other' })).toBe(false);
    expect(signerAllowed(KEY, { mode: 'keyless', identity: CI, issuer: ISSUER })).toBe(false);
  });
});
