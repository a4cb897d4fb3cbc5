// The admission decision (gateway/admission.ts) and the factory-chain verdict (factory-identity.ts),
// as pure functions: every path, every refusal code, and that selectors only come from the operator.
import { beforeAll, describe, expect, it } from 'vitest';
import { admissionDecision, type AdmissionFacts } from '../../gateway/admission.js';
import { certificateFingerprint, devicePatternMatches, verifyFactoryChain } from '../../gateway/factory-identity.js';
import type { FleetCa } from '../../identity/fleet-ca.js';
import { generateDeviceKey, type DeviceKey } from '../../schemas/device-envelope.js';
import { factoryChain, makeFactoryCa } from '../support/factory-ca.js';

const NOW = new Date('2026-06-01T12:00:00Z');
const base: AdmissionFacts = { deviceId: 'dev-1', hardwareId: 'gw-1', proofValid: true, sharedTokenEnabled: false, now: NOW };
const token = (over: Partial<Extract<NonNullable<AdmissionFacts['token']>, { kind: 'record' }>> = {}): AdmissionFacts['token'] => ({
  kind: 'record', deviceId: 'dev-1', hardwareId: null, channel: 'beta', labels: { ring: 'canary' }, expiresAt: new Date(NOW.getTime() + 3600_000), used: false, ...over,
});
const refusal = (facts: Partial<AdmissionFacts>) => {
  const decision = admissionDecision({ ...base, ...facts });
  return decision.kind === 'refuse' ? decision.code : decision.kind;
};

describe('admissionDecision', () => {
  it('refuses a body whose proof does not verify, before anything else', () => {
    expect(refusal({ proofValid: false, token: token() })).toBe('enroll-proof-invalid');
  });

  it('is closed without an operator-side admission: not-preauthorized (or token-required in the lab mode)', () => {
    expect(refusal({})).toBe('not-preauthorized');
    expect(refusal({ sharedTokenEnabled: true })).toBe('enrollment-token-required');
  });

  it('admits a preauthorized key with the preauthorization selectors; another key or hardware is refused', () => {
    const preauthorization = { sameKey: true, hardwareId: 'gw-1', channel: 'stable', labels: { region: 'eu' } };
    expect(admissionDecision({ ...base, preauthorization })).toEqual({ kind: 'admit', via: 'preauthorization', channel: 'stable', labels: { region: 'eu' }, spendsToken: false });
    expect(refusal({ preauthorization: { ...preauthorization, sameKey: false } })).toBe('preauthorization-key-mismatch');
    expect(refusal({ preauthorization: { ...preauthorization, hardwareId: 'gw-2' } })).toBe('preauthorization-hardware-mismatch');
  });

  it('admits with a valid per-device token and spends it; used, expired, other-device, other-hardware and unknown tokens each have their code', () => {
    expect(admissionDecision({ ...base, token: token() })).toEqual({ kind: 'admit', via: 'token', channel: 'beta', labels: { ring: 'canary' }, spendsToken: true });
    expect(refusal({ token: token({ used: true }) })).toBe('enrollment-token-used');
    expect(refusal({ token: token({ expiresAt: NOW }) })).toBe('enrollment-token-expired');
    expect(refusal({ token: token({ deviceId: 'dev-2' }) })).toBe('enrollment-token-wrong-device');
    expect(refusal({ token: token({ hardwareId: 'gw-9' }) })).toBe('enrollment-token-wrong-hardware');
    expect(refusal({ token: { kind: 'unknown' } })).toBe('enrollment-token-invalid');
    // A presented token is judged as a token, even when a preauthorization exists.
    expect(refusal({ token: { kind: 'unknown' }, preauthorization: { sameKey: true, hardwareId: 'gw-1', channel: 'stable', labels: {} } })).toBe('enrollment-token-invalid');
  });

  it('the lab shared token admits with no labels at all', () => {
    expect(admissionDecision({ ...base, sharedTokenEnabled: true, token: { kind: 'shared' } })).toMatchObject({ kind: 'admit', via: 'shared-token', labels: {} });
  });

  it('a factory identity waits (pending) unless the CA policy auto-accepts the id; a refused chain keeps its code', () => {
    const verdict = { ok: true as const, caFingerprint: 'ab'.repeat(32), leafPem: 'PEM' };
    expect(admissionDecision({ ...base, factory: { verdict, policy: { autoAccept: null, channel: 'stable', labels: {} } } })).toMatchObject({ kind: 'pending', recorded: false });
    expect(admissionDecision({ ...base, factory: { verdict, policy: { autoAccept: 'dev-*', channel: 'stable', labels: { maker: 'acme' } } } })).toMatchObject({
      kind: 'admit', via: 'factory-policy', labels: { maker: 'acme' },
    });
    expect(admissionDecision({ ...base, factory: { verdict, policy: { autoAccept: 'other-*', channel: 'stable', labels: {} } } }).kind).toBe('pending');
    expect(refusal({ factory: { verdict: { ok: false, code: 'factory-ca-unknown', detail: 'x' } } })).toBe('factory-ca-unknown');
  });

  it('existing, revoked, pending and rejected devices', () => {
    expect(refusal({ existing: { sameKey: true, sameHardware: true, revoked: false }, token: { kind: 'unknown' } })).toBe('existing');
    expect(refusal({ existing: { sameKey: false, sameHardware: true, revoked: false } })).toBe('device-exists');
    expect(refusal({ existing: { sameKey: true, sameHardware: true, revoked: true } })).toBe('device-revoked');
    expect(refusal({ request: { state: 'rejected', sameKey: true }, token: token() })).toBe('device-rejected');
    expect(refusal({ request: { state: 'pending', sameKey: true } })).toBe('device-pending');
    expect(refusal({ request: { state: 'pending', sameKey: false } })).toBe('device-exists');
  });
});

describe('devicePatternMatches', () => {
  it('matches * as any run and everything else literally', () => {
    expect(devicePatternMatches('acme-*', 'acme-0001')).toBe(true);
    expect(devicePatternMatches('acme-*', 'acme.0001')).toBe(false);
    expect(devicePatternMatches('a.c', 'abc')).toBe(false);
    expect(devicePatternMatches('*', 'anything')).toBe(true);
  });
});

describe('verifyFactoryChain', () => {
  let acme: FleetCa;
  let other: FleetCa;
  let key: DeviceKey;
  let chain: string[];
  const trusted = () => [{ fingerprint: certificateFingerprint(acme.root.certPem), certificatePem: acme.root.certPem }];
  beforeAll(async () => {
    [acme, other] = [await makeFactoryCa('Acme Factory'), await makeFactoryCa('Other Factory')];
    key = generateDeviceKey('ecdsa-p256-sha256');
    chain = await factoryChain(acme, 'acme-1', key);
  });
  const verify = (over: Partial<Parameters<typeof verifyFactoryChain>[0]> = {}) => verifyFactoryChain({ chainPems: chain, deviceId: 'acme-1', publicKeyPem: key.publicKeyPem, trusted: trusted(), now: new Date(), ...over });

  it('accepts an IDevID for this id and key that chains to a trusted CA (root or intermediate)', () => {
    expect(verify()).toMatchObject({ ok: true, caFingerprint: certificateFingerprint(acme.root.certPem) });
    const byIntermediate = [{ fingerprint: 'i', certificatePem: acme.intermediate.certPem }];
    expect(verify({ trusted: byIntermediate })).toMatchObject({ ok: true, caFingerprint: 'i' });
  });

  it('refuses each way a chain can be wrong with its own code', async () => {
    const code = (v: ReturnType<typeof verifyFactoryChain>) => (v.ok ? 'ok' : v.code);
    expect(code(verify({ trusted: [] }))).toBe('factory-ca-unknown');
    expect(code(verify({ chainPems: await factoryChain(other, 'acme-1', key) }))).toBe('factory-ca-unknown');
    expect(code(verify({ deviceId: 'acme-2' }))).toBe('factory-id-mismatch');
    expect(code(verify({ publicKeyPem: generateDeviceKey('ecdsa-p256-sha256').publicKeyPem }))).toBe('factory-key-mismatch');
    expect(code(verify({ now: new Date(Date.now() + 2 * 365 * 86_400_000) }))).toBe('factory-certificate-expired');
    expect(code(verify({ chainPems: [chain[0]!, other.intermediate.certPem] }))).toBe('factory-chain-broken');
    expect(code(verify({ chainPems: [acme.intermediate.certPem] }))).toBe('factory-certificate-malformed');
    expect(code(verify({ chainPems: ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'] }))).toBe('factory-certificate-malformed');
  });
});
