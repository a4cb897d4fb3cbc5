import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { releaseManifestSchemaPath, renderReleaseManifestJsonSchema } from '../../schemas/export-json-schema.js';
import {
  canonicalManifestBytes,
  canonicalReleaseIndexBytes,
  chooseUpdateArtifact,
  Manifest,
  ManifestError,
  parseManifest,
  parseReleaseIndex,
  ReleaseIndex,
} from '../../schemas/manifest.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

function validManifest(): Manifest {
  return {
    schemaVersion: 1,
    hardwareId: 'rpi4-gateway',
    version: '1.4.0-rc.1+build.7',
    securityVersion: 3,
    channel: 'beta',
    created: '2026-01-10T08:00:00Z',
    expires: '2026-04-10T08:00:00Z',
    image: {
      sha256: sha('image 1.4.0'),
      length: 33_554_432,
      location: 'releases/rpi4-gateway/1.4.0-rc.1/image.bin.gz',
      compression: 'gzip',
      compressedSha256: sha('image 1.4.0 gz'),
      compressedLength: 12_000_000,
    },
    imageSignatureBundle: { location: 'releases/rpi4-gateway/1.4.0-rc.1/image.sigstore.json', sha256: sha('bundle') },
    deltas: [
      {
        format: 'bsdiff',
        fromVersion: '1.3.2',
        fromSha256: sha('image 1.3.2'),
        toSha256: sha('image 1.4.0'),
        sha256: sha('delta 1.3.2'),
        length: 900_000,
        location: 'https://cdn.example.com/deltas/1.3.2-1.4.0.bsdiff',
        compression: 'none',
      },
    ],
    skippedDeltas: [{ format: 'bsdiff', fromVersion: '1.2.0', reason: 'delta 11.8 MB is not < 90% of the compressed full image 12.0 MB' }],
    sbom: { location: 'releases/rpi4-gateway/1.4.0-rc.1/sbom.cdx.json', sha256: sha('sbom') },
    vex: { location: 'releases/rpi4-gateway/1.4.0-rc.1/vex.cdx.json', sha256: sha('vex') },
    openvex: { location: 'releases/rpi4-gateway/1.4.0-rc.1/openvex.json', sha256: sha('openvex') },
    provenance: { location: 'releases/rpi4-gateway/1.4.0-rc.1/provenance.intoto.json', sha256: sha('provenance') },
  };
}

const bytesOf = (doc: unknown) => new TextEncoder().encode(JSON.stringify(doc, null, 2));

/** Parses and returns the ManifestError's issues, failing the test when parsing succeeds. */
function issuesOf(doc: unknown): { path: string; message: string }[] {
  try {
    parseManifest(typeof doc === 'string' ? doc : bytesOf(doc));
  } catch (err) {
    expect(err).toBeInstanceOf(ManifestError);
    return (err as ManifestError).issues;
  }
  throw new Error('expected parseManifest to reject the document');
}

/** Rebuilds every object with its keys in reverse order: same document, different serialization. */
function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reverseKeys(v)]));
  }
  return value;
}

describe('parseManifest', () => {
  it('accepts a valid manifest and returns it unchanged', () => {
    const doc = validManifest();
    expect(parseManifest(bytesOf(doc))).toEqual(doc);
    expect(parseManifest(JSON.stringify(doc))).toEqual(doc);
  });

  it('accepts an uncompressed image without compressed digest fields', () => {
    const doc = validManifest();
    doc.image = { sha256: doc.image.sha256, length: doc.image.length, location: 'releases/x/image.bin', compression: 'none' };
    expect(parseManifest(bytesOf(doc)).image.compression).toBe('none');
  });

  const invalidCases: [string, (m: any) => void, string, RegExp][] = [
    ['bad semver', (m) => (m.version = '1.4'), 'version', /SemVer/],
    ['leading zero semver', (m) => (m.deltas[0].fromVersion = '01.3.2'), 'deltas[0].fromVersion', /SemVer/],
    ['semver number too large to order', (m) => (m.version = '1.2.12345678901234567'), 'version', /at most 15 digits/],
    ['uppercase digest', (m) => (m.image.sha256 = m.image.sha256.toUpperCase()), 'image.sha256', /sha256/],
    ['short digest', (m) => (m.sbom.sha256 = 'abc123'), 'sbom.sha256', /sha256/],
    ['bad delta digest', (m) => (m.deltas[0].fromSha256 = 'z'.repeat(64)), 'deltas[0].fromSha256', /sha256/],
    ['expires before created', (m) => (m.expires = '2026-01-01T00:00:00Z'), 'expires', /after created/],
    ['expires equal to created', (m) => (m.expires = m.created), 'expires', /after created/],
    ['unknown top-level field', (m) => (m.notes = 'hi'), 'notes', /unknown field/],
    ['unknown nested field', (m) => (m.deltas[0].patchLevel = 2), 'deltas[0].patchLevel', /unknown field/],
    ['wrong schemaVersion', (m) => (m.schemaVersion = 2), 'schemaVersion', /unsupported schemaVersion 2; this reader understands 1/],
    ['missing schemaVersion', (m) => delete m.schemaVersion, 'schemaVersion', /unsupported schemaVersion undefined/],
    ['negative security version', (m) => (m.securityVersion = -1), 'securityVersion', />=0/],
    ['uppercase hardware id', (m) => (m.hardwareId = 'RPi4'), 'hardwareId', /lowercase/],
    ['channel with spaces', (m) => (m.channel = 'my channel'), 'channel', /channel name/],
    ['timestamp with offset', (m) => (m.created = '2026-01-10T08:00:00+02:00'), 'created', /UTC/],
    ['unknown compression', (m) => (m.image.compression = 'zstd'), 'image.compression', /Expected/],
    ['compressed image without compressed digest', (m) => delete m.image.compressedSha256, 'image.compressedSha256', /expected string/],
    ['unknown delta format', (m) => (m.deltas[0].format = 'xdelta'), 'deltas[0].format', /bsdiff/],
    ['delta to another image', (m) => (m.deltas[0].toSha256 = sha('other')), 'deltas[0].toSha256', /image.sha256/],
    ['location escaping the store', (m) => (m.vex.location = 'releases/../secrets'), 'vex.location', /store key/],
    ['absolute store key', (m) => (m.vex.location = '/etc/passwd'), 'vex.location', /store key/],
  ];

  it.each(invalidCases)('rejects %s naming the field path', (_name, mutate, path, message) => {
    const doc: any = validManifest();
    mutate(doc);
    const issues = issuesOf(doc);
    const issue = issues.find((i) => i.path === path);
    expect(issue, `issues: ${JSON.stringify(issues)}`).toBeDefined();
    expect(issue!.message).toMatch(message);
  });

  it('lists every bad field, and the error message names the paths', () => {
    const doc: any = validManifest();
    doc.version = 'v1';
    doc.provenance.sha256 = 'nope';
    try {
      parseManifest(bytesOf(doc));
      expect.unreachable();
    } catch (err) {
      const e = err as ManifestError;
      expect(e.issues.map((i) => i.path).sort()).toEqual(['provenance.sha256', 'version']);
      expect(e.message).toContain('invalid release manifest');
      expect(e.message).toContain('  - version: must be a SemVer');
      expect(e.message).toContain('  - provenance.sha256: must be a sha256 digest');
    }
  });

  it('rejects an unknown delta format by default, and can ignore it for forward compatibility', () => {
    const doc: any = validManifest();
    const known = doc.deltas[0];
    doc.deltas.push({ ...known, format: 'zstd-patch', sha256: sha('zstd delta'), length: 10 });
    doc.skippedDeltas.push({ format: 'zstd-patch', fromVersion: '1.2.0', reason: 'later' });
    expect(issuesOf(doc).map((i) => i.path)).toEqual(['deltas[1].format', 'skippedDeltas[1].format']);
    const parsed = parseManifest(bytesOf(doc), { ignoreUnknownDeltaFormats: true });
    expect(parsed.deltas).toEqual([known]);
    expect(parsed.skippedDeltas).toHaveLength(1);
    // Other defects are still reported.
    doc.deltas[1].fromSha256 = 'bad';
    doc.version = 'x';
    expect(() => parseManifest(bytesOf(doc), { ignoreUnknownDeltaFormats: true })).toThrow(/version: must be a SemVer/);
  });

  it('ops deltas beside bsdiff: both parse paths accept them; each device picks among what it applies', () => {
    const doc: any = validManifest();
    const bsdiff = doc.deltas[0];
    const ops = { ...bsdiff, format: 'ops', sha256: sha('ops delta'), length: bsdiff.length * 2, location: 'releases/x/ops.patch' };
    doc.deltas.push(ops);
    doc.skippedDeltas.push({ format: 'ops', fromVersion: '1.1.0', reason: 'delta 9 MB is 95% of the compressed full image' });
    for (const options of [{}, { ignoreUnknownDeltaFormats: true }]) {
      const parsed = parseManifest(bytesOf(doc), options);
      expect(parsed.deltas.map((d) => d.format)).toEqual(['bsdiff', 'ops']);
      expect(parsed.skippedDeltas.map((d) => d.format)).toContain('ops');
    }
    const m = parseManifest(bytesOf(doc), { ignoreUnknownDeltaFormats: true });
    // The smallest supported delta wins, whatever the preference order.
    expect(chooseUpdateArtifact(m, bsdiff.fromSha256, ['ops', 'bsdiff'])).toMatchObject({ kind: 'delta', delta: { format: 'bsdiff' } });
    expect(chooseUpdateArtifact(m, bsdiff.fromSha256, ['bsdiff'])).toMatchObject({ kind: 'delta', delta: { format: 'bsdiff' } });
    expect(chooseUpdateArtifact(m, bsdiff.fromSha256, ['ops'])).toMatchObject({ kind: 'delta', delta: { format: 'ops' }, downloadLength: ops.length });
    const smallerOps = parseManifest(bytesOf({ ...doc, deltas: [bsdiff, { ...ops, length: bsdiff.length - 1 }] }));
    expect(chooseUpdateArtifact(smallerOps, bsdiff.fromSha256, ['ops', 'bsdiff'])).toMatchObject({ kind: 'delta', delta: { format: 'ops' } });
    expect(chooseUpdateArtifact(smallerOps, bsdiff.fromSha256, ['bsdiff'])).toMatchObject({ kind: 'delta', delta: { format: 'bsdiff' } });
  });

  it('reports malformed JSON, invalid UTF-8 and non-objects at the root', () => {
    expect(issuesOf('{"schemaVersion": 1,')[0]).toMatchObject({ path: '(root)', message: expect.stringMatching(/^malformed JSON/) });
    expect(issuesOf('[1,2]')[0]).toMatchObject({ path: '(root)', message: 'must be a JSON object' });
    expect(() => parseManifest(new Uint8Array([0x7b, 0xff, 0x7d]))).toThrow(/not valid UTF-8/);
  });
});

describe('canonicalManifestBytes', () => {
  it('is the same regardless of key order and sorts keys', () => {
    const doc = validManifest();
    const shuffled = reverseKeys(doc) as Manifest;
    expect(JSON.stringify(shuffled)).not.toBe(JSON.stringify(doc));
    const a = canonicalManifestBytes(doc);
    const b = canonicalManifestBytes(shuffled);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    const text = new TextDecoder().decode(a);
    expect(text.startsWith('{"channel":"beta","created":')).toBe(true);
    expect(text).not.toMatch(/\s"|\n/);
  });

  it('round-trips through parseManifest', () => {
    const doc = validManifest();
    const bytes = canonicalManifestBytes(doc);
    expect(parseManifest(bytes)).toEqual(doc);
    expect(Buffer.from(canonicalManifestBytes(parseManifest(bytes))).equals(Buffer.from(bytes))).toBe(true);
  });

  it('refuses to serialize an invalid manifest', () => {
    const doc: any = validManifest();
    doc.image.length = 0;
    expect(() => canonicalManifestBytes(doc)).toThrow(/image.length/);
  });
});

describe('release index', () => {
  const index = (): ReleaseIndex => ({
    schemaVersion: 1,
    hardwareId: 'rpi4-gateway',
    channel: 'stable',
    updated: '2026-02-01T00:00:00.000Z',
    releases: [
      { version: '1.3.2', securityVersion: 3, created: '2026-01-01T00:00:00Z', manifest: { location: 'releases/rpi4-gateway/1.3.2/manifest.json', sha256: sha('m1') } },
      { version: '1.4.0', securityVersion: 3, created: '2026-02-01T00:00:00Z', manifest: { location: 'releases/rpi4-gateway/1.4.0/manifest.json', sha256: sha('m2') } },
    ],
  });

  it('parses, and canonical bytes round-trip', () => {
    const bytes = canonicalReleaseIndexBytes(index());
    expect(parseReleaseIndex(bytes)).toEqual(index());
  });

  it('rejects duplicate versions and bad digests with paths', () => {
    const doc: any = index();
    doc.releases[1].version = '1.3.2';
    doc.releases[0].manifest.sha256 = 'x';
    try {
      parseReleaseIndex(JSON.stringify(doc));
      expect.unreachable();
    } catch (err) {
      expect((err as ManifestError).issues.map((i) => i.path).sort()).toEqual(['releases[0].manifest.sha256', 'releases[1].version']);
      expect((err as ManifestError).message).toMatch(/releases\[1\]\.version: duplicate version 1.3.2/);
    }
  });
});

describe('JSON Schema export', () => {
  it('the committed schemas/release-manifest.schema.json is current', () => {
    // Regenerate with: npx tsc -p . && node dist/schemas/export-json-schema.js
    expect(readFileSync(releaseManifestSchemaPath, 'utf8')).toBe(renderReleaseManifestJsonSchema());
  });

  it('validates the same documents as zod for field-level rules (checked with ajv)', () => {
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    (addFormats as unknown as (a: Ajv2020) => void)(ajv);
    const validate = ajv.compile(JSON.parse(readFileSync(releaseManifestSchemaPath, 'utf8')));
    expect(validate(validManifest()), JSON.stringify(validate.errors)).toBe(true);
    const bad: any = validManifest();
    bad.deltas[0].extra = 1;
    bad.version = '1.4';
    expect(validate(bad)).toBe(false);
    expect(validate.errors!.map((e) => e.instancePath).sort()).toEqual(['/deltas/0', '/version']);
  });
});

describe('chooseUpdateArtifact', () => {
  const m = validManifest();
  const fromSha = m.deltas[0]!.fromSha256;

  it('says up-to-date when the installed image is the release image', () => {
    expect(chooseUpdateArtifact(m, m.image.sha256, ['bsdiff'])).toEqual({ kind: 'up-to-date' });
  });

  it('picks the delta whose fromSha256 is the installed image (digest case-insensitive)', () => {
    const choice = chooseUpdateArtifact(m, fromSha.toUpperCase(), ['bsdiff']);
    expect(choice).toEqual({ kind: 'delta', delta: m.deltas[0], downloadLength: m.deltas[0]!.length });
  });

  it('falls back to the full image, downloading the compressed size', () => {
    const expected = { kind: 'full', image: m.image, downloadLength: 12_000_000 };
    expect(chooseUpdateArtifact(m, sha('some other image'), ['bsdiff'])).toEqual({ ...expected, reason: 'no-delta-from-installed-image' });
    expect(chooseUpdateArtifact(m, undefined, ['bsdiff'])).toEqual({ ...expected, reason: 'installed-image-unknown' });
    expect(chooseUpdateArtifact(m, fromSha, [])).toEqual({ ...expected, reason: 'no-supported-delta-format' });
  });

  it('uses the raw length for an uncompressed image', () => {
    const doc = validManifest();
    doc.image = { sha256: doc.image.sha256, length: doc.image.length, location: 'releases/x/image.bin', compression: 'none' };
    expect(chooseUpdateArtifact(doc, null, ['bsdiff'])).toMatchObject({ kind: 'full', downloadLength: doc.image.length });
  });

  it('picks the smallest of several matching deltas, manifest order breaking ties', () => {
    const doc = validManifest();
    const base = doc.deltas[0]!;
    // The schema keeps one delta per (format, from image); the decision does not rely on that.
    doc.deltas = [
      { ...base, location: 'deltas/big', length: 5_000 },
      { ...base, fromSha256: sha('unrelated'), location: 'deltas/unrelated', length: 10 },
      { ...base, location: 'deltas/small-a', length: 1_000 },
      { ...base, location: 'deltas/small-b', length: 1_000 },
    ];
    const choice = chooseUpdateArtifact(doc, base.fromSha256, ['bsdiff']);
    expect(choice.kind === 'delta' && choice.delta.location).toBe('deltas/small-a');
  });
});
