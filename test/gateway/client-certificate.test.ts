// The pure parts of the mTLS check: the device id a certificate names, the renewal moment, the
// one function that says who may hold a certificate.
import { describe, expect, it } from 'vitest';
import { admissionRefusal } from '../../gateway/certificate-routes.js';
import { deviceIdFromSubjectAltName } from '../../gateway/client-certificate.js';
import type { EnrolledDevice } from '../../fleet/fleet-store.js';
import { renewalTime } from '../../schemas/device-certificate.js';

describe('deviceIdFromSubjectAltName', () => {
  it('reads the one device URI', () => {
    expect(deviceIdFromSubjectAltName('URI:urn:edge-ota:device:dev-0042')).toBe('dev-0042');
    expect(deviceIdFromSubjectAltName('DNS:gw.example, URI:urn:edge-ota:device:a.b_c:1')).toBe('a.b_c:1');
  });
  it('refuses none, two, or a malformed one', () => {
    expect(deviceIdFromSubjectAltName(undefined)).toBeUndefined();
    expect(deviceIdFromSubjectAltName('DNS:gw.example')).toBeUndefined();
    expect(deviceIdFromSubjectAltName('URI:urn:edge-ota:device:a, URI:urn:edge-ota:device:b')).toBeUndefined();
    expect(deviceIdFromSubjectAltName('URI:urn:edge-ota:device:-bad')).toBeUndefined();
    expect(deviceIdFromSubjectAltName('URI:urn:edge-ota:device:')).toBeUndefined();
  });
});

describe('renewalTime', () => {
  it('is 2/3 of the way through the validity', () => {
    const from = new Date('2026-01-01T00:00:00Z');
    expect(renewalTime(from, new Date('2026-01-02T00:00:00Z')).toISOString()).toBe('2026-01-01T16:00:00.000Z');
  });
});

describe('admissionRefusal', () => {
  const device = { id: 'd1', revokedAt: null } as EnrolledDevice;
  it('admits an enrolled device, not a revoked or pending one', () => {
    expect(admissionRefusal(device)).toBeUndefined();
    expect(admissionRefusal({ ...device, revokedAt: new Date() })).toMatch(/revoked/);
    expect(admissionRefusal({ ...device, admission: 'pending' })).toMatch(/pending/);
    expect(admissionRefusal({ ...device, admission: 'accepted' })).toBeUndefined();
  });
});
