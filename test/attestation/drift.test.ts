// driftBetween (pure): each drift kind from the posture a heartbeat carries against the desired
// state, the claimed release's measurement, the installed assignment and the fleet's TUF versions;
// facts nobody states a wish about are never drift.
import { describe, expect, it } from 'vitest';
import { DRIFT_KINDS, driftBetween, type DesiredPosture } from '../../attestation/drift.js';
import { postureSchema, type Posture } from '../../schemas/device-api.js';

const GOOD = 'a'.repeat(64);
const IMAGE = 'b'.repeat(64);
const CONFIG = 'c'.repeat(64);

const posture = (over: Partial<Posture> = {}): Posture =>
  postureSchema.parse({
    agentVersion: '0.3.0',
    bootMeasurement: { source: 'tpm-pcr', pcr: 16, value: GOOD },
    trust: { rootVersion: 2, targetsVersion: 5 },
    configDigest: CONFIG,
    listening: ['tcp/22', 'udp/123'],
    services: ['ota-agent', 'sshd'],
    truncated: false,
    ...over,
  });

const desired: DesiredPosture = {
  state: { allowedPorts: ['tcp/22', 'udp/123'], allowedServices: ['ota-agent', 'sshd'], configDigest: CONFIG, minAgentVersion: '0.2.0' },
  claimedRelease: { version: '1.0.0', bootMeasurement: { pcr: 16, value: GOOD }, imageSha256: IMAGE },
  installedAssignment: { version: '1.0.0', rolloutId: 'r1' },
  fleetTrust: { rootVersion: 2, targetsVersion: 5 },
};

const kinds = (d: DesiredPosture, p: Posture, release: string | null = '1.0.0') => driftBetween(d, { releaseVersion: release, posture: p }).map((x) => `${x.kind}${x.subject ? ` ${x.subject}` : ''}`);

describe('driftBetween', () => {
  it('a device exactly as desired has no drift', () => {
    expect(driftBetween(desired, { releaseVersion: '1.0.0', posture: posture() })).toEqual([]);
  });

  it('names each unknown listening port and each unexpected service separately', () => {
    const drifts = driftBetween(desired, { releaseVersion: '1.0.0', posture: posture({ listening: ['tcp/22', 'tcp/8080', 'udp/5353'], services: ['sshd', 'telnetd'] }) });
    expect(drifts.map((d) => [d.kind, d.subject])).toEqual([
      ['unknown-listening-port', 'tcp/8080'],
      ['unknown-listening-port', 'udp/5353'],
      ['service-unexpected', 'telnetd'],
    ]);
    expect(drifts[0]!.detail).toEqual({ port: 'tcp/8080', allowed: ['tcp/22', 'udp/123'] });
  });

  it('a boot PCR other than the claimed release lists is an unexpected measurement, with both values', () => {
    const [drift] = driftBetween(desired, { releaseVersion: '1.0.0', posture: posture({ bootMeasurement: { source: 'tpm-pcr', pcr: 16, value: 'f'.repeat(64) } }) });
    expect(drift).toEqual({ kind: 'unexpected-measurement', subject: '', detail: { release: '1.0.0', source: 'tpm-pcr', pcr: 16, measured: 'f'.repeat(64), expected: GOOD } });
  });

  it('without a TPM the slot digest is compared with the release image digest', () => {
    expect(kinds(desired, posture({ bootMeasurement: { source: 'slot-digest', value: IMAGE } }))).toEqual([]);
    expect(kinds(desired, posture({ bootMeasurement: { source: 'slot-digest', value: GOOD } }))).toEqual(['unexpected-measurement']);
  });

  it('judges no measurement when the release is unknown, lists none, or names another PCR', () => {
    expect(kinds({ ...desired, claimedRelease: undefined }, posture({ bootMeasurement: { source: 'tpm-pcr', pcr: 16, value: 'f'.repeat(64) } }))).toEqual([]);
    expect(kinds({ ...desired, claimedRelease: { version: '1.0.0' } }, posture({ bootMeasurement: { source: 'tpm-pcr', pcr: 16, value: 'f'.repeat(64) } }))).toEqual([]);
    expect(kinds(desired, posture({ bootMeasurement: { source: 'tpm-pcr', pcr: 9, value: 'f'.repeat(64) } }))).toEqual([]);
    expect(kinds(desired, posture({ bootMeasurement: null }))).toEqual([]);
  });

  it('running another release than the installed assignment is a release mismatch', () => {
    const drifts = driftBetween({ ...desired, claimedRelease: undefined }, { releaseVersion: '0.9.0', posture: posture() });
    expect(drifts).toEqual([{ kind: 'release-mismatch', subject: '', detail: { assigned: '1.0.0', rolloutId: 'r1', running: '0.9.0' } }]);
  });

  it('a TUF root or targets version below the fleet is stale trust metadata; a device pinning no root is not judged', () => {
    expect(kinds(desired, posture({ trust: { rootVersion: 1, targetsVersion: 5 } }))).toEqual(['trust-metadata-stale']);
    expect(kinds(desired, posture({ trust: { rootVersion: 2, targetsVersion: 4 } }))).toEqual(['trust-metadata-stale']);
    expect(kinds(desired, posture({ trust: { rootVersion: 3, targetsVersion: 9 } }))).toEqual([]);
    expect(kinds(desired, posture({ trust: null }))).toEqual([]);
  });

  it('another configuration digest and an agent below the minimum version', () => {
    expect(kinds(desired, posture({ configDigest: 'd'.repeat(64), agentVersion: '0.1.9' }))).toEqual(['config-digest-mismatch', 'agent-version-old']);
    expect(kinds(desired, posture({ agentVersion: '0.2.0' }))).toEqual([]);
    expect(kinds(desired, posture({ agentVersion: '0.2.0-rc.1' }))).toEqual(['agent-version-old']);
  });

  it('with no desired state only the fleet-wide facts are judged', () => {
    const bare: DesiredPosture = { fleetTrust: desired.fleetTrust };
    expect(kinds(bare, posture({ listening: ['tcp/1'], services: ['x'], configDigest: 'd'.repeat(64), agentVersion: '0.0.1' }))).toEqual([]);
    expect(kinds(bare, posture({ trust: { rootVersion: 1, targetsVersion: 1 } }))).toEqual(['trust-metadata-stale']);
  });

  it('every kind is named in DRIFT_KINDS', () => {
    const all = driftBetween(
      { ...desired, installedAssignment: { version: '2.0.0', rolloutId: 'r2' } },
      { releaseVersion: '1.0.0', posture: posture({ listening: ['tcp/9'], services: ['x'], configDigest: 'd'.repeat(64), agentVersion: '0.0.1', trust: { rootVersion: 1, targetsVersion: 1 }, bootMeasurement: { source: 'tpm-pcr', pcr: 16, value: 'e'.repeat(64) } }) },
    );
    expect(new Set(all.map((d) => d.kind))).toEqual(new Set(DRIFT_KINDS));
  });
});

describe('postureSchema bounds', () => {
  it('refuses too many ports, a malformed port and an out-of-range one', () => {
    const many = Array.from({ length: 257 }, (_, i) => `tcp/${i + 1}`);
    expect(postureSchema.safeParse({ ...posture(), listening: many }).success).toBe(false);
    expect(postureSchema.safeParse({ ...posture(), listening: ['tcp/0'] }).success).toBe(false);
    expect(postureSchema.safeParse({ ...posture(), listening: ['tcp/65536'] }).success).toBe(false);
    expect(postureSchema.safeParse({ ...posture(), listening: ['sctp/1'] }).success).toBe(false);
    expect(postureSchema.safeParse({ ...posture(), services: ['a b'] }).success).toBe(false);
  });
});
