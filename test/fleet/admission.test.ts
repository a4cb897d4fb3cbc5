// The admission store (fleet/admission.ts) on both engines: preauthorizations, single-use tokens
// kept as hashes, factory CAs, pending devices accepted or rejected, and admissionState.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetStore } from '../../fleet/fleet-store.js';
import { tokenDigest } from '../../fleet/admission.js';
import { generateDeviceKey } from '../../schemas/device-envelope.js';
import { onPgliteAndPostgres } from '../support/fleet-backends.js';
import { warnIfPostgresMissing } from '../support/postgres.js';

warnIfPostgresMissing('fleet admission store');

function admissionSuite(engine: string, openUrl: () => Promise<string>) {
  describe(`admission store on ${engine}`, () => {
    let store: FleetStore;
    beforeAll(async () => {
      store = await FleetStore.open(await openUrl());
    });
    afterAll(async () => store?.close());
    const key = () => generateDeviceKey('ed25519');
    const input = (id: string, k = key()) => ({ id, hardwareId: 'gw-a', channel: 'beta', labels: { region: 'eu' }, publicKeyPem: k.publicKeyPem, keyAlgorithm: k.algorithm });

    it('preauthorizes (replacing until enrolled) and refuses once the device is enrolled', async () => {
      const k = key();
      const p = { deviceId: `pre-${engine}`, hardwareId: 'gw-a', channel: 'stable', labels: { site: 'x' }, publicKeyPem: k.publicKeyPem, keyAlgorithm: k.algorithm };
      expect(await store.preauthorize(p)).toBe(true);
      expect(await store.preauthorize({ ...p, labels: { site: 'y' } })).toBe(true);
      expect(await store.getPreauthorization(p.deviceId)).toMatchObject({ labels: { site: 'y' } });
      expect(await store.admissionState(p.deviceId)).toBe('unknown');
      await store.admitDevice(input(p.deviceId, k), undefined);
      expect(await store.admissionState(p.deviceId)).toBe('admitted');
      expect(await store.preauthorize(p)).toBe(false);
      await store.revokeDevice(p.deviceId, 'test');
      expect(await store.admissionState(p.deviceId)).toBe('revoked');
    });

    it('keeps only the hash of a token, which admits its device once', async () => {
      const id = `tok-${engine}`;
      const { token, expiresAt } = await store.createEnrollmentToken({ deviceId: id, ttlSeconds: 3600, channel: 'beta', labels: { region: 'eu' } });
      expect(expiresAt.getTime()).toBeGreaterThan(Date.now() + 3500_000);
      const { rows } = await store.db.query('SELECT * FROM enrollment_tokens WHERE device_id = $1', [id]);
      expect(rows).toHaveLength(1);
      expect(rows[0]!.token_sha256).toBe(tokenDigest(token));
      expect(JSON.stringify(rows)).not.toContain(token);
      expect(await store.admitDevice(input('someone-else'), { token })).toEqual({ kind: 'token-spent' });
      expect(await store.getDevice('someone-else')).toBeUndefined();
      expect((await store.admitDevice(input(id), { token })).kind).toBe('created');
      expect((await store.findEnrollmentToken(token))?.usedAt).not.toBeNull();
      // Spent: a second device row can never come from it, and a taken id rolls the spend back.
      const again = await store.createEnrollmentToken({ deviceId: id, ttlSeconds: 60, channel: 'beta', labels: {} });
      expect(await store.admitDevice(input(id), { token: again.token })).toEqual({ kind: 'taken' });
      expect((await store.findEnrollmentToken(again.token))?.usedAt).toBeNull();
    });

    it('records pending devices from a factory CA; accept admits with the CA selectors or the operator\'s, reject refuses', async () => {
      const fingerprint = `${engine}`.padEnd(64, '0');
      await store.addFactoryCa({ fingerprint, name: 'Acme', certificatePem: 'PEM', autoAccept: null, channel: 'stable', labels: { maker: 'acme' } });
      expect((await store.listFactoryCas()).map((c) => c.fingerprint)).toContain(fingerprint);
      const pending = (deviceId: string) => {
        const k = key();
        return store.requestAdmission({ deviceId, hardwareId: 'gw-a', publicKeyPem: k.publicKeyPem, keyAlgorithm: k.algorithm, factoryCa: fingerprint, certificatePem: 'LEAF' });
      };
      expect((await pending(`fa-1-${engine}`)).state).toBe('pending');
      await pending(`fa-2-${engine}`);
      await pending(`fa-3-${engine}`);
      expect(await store.admissionState(`fa-1-${engine}`)).toBe('pending');
      expect(await store.acceptDevice(`fa-1-${engine}`)).toMatchObject({ kind: 'accepted', device: { channel: 'stable', labels: { maker: 'acme' } } });
      expect(await store.acceptDevice(`fa-2-${engine}`, { channel: 'beta', labels: { ring: 'canary' } })).toMatchObject({ kind: 'accepted', device: { channel: 'beta', labels: { ring: 'canary' } } });
      expect(await store.admissionState(`fa-1-${engine}`)).toBe('admitted');
      expect(await store.acceptDevice(`fa-1-${engine}`)).toEqual({ kind: 'not-pending', state: 'admitted' });
      expect(await store.rejectDevice(`fa-3-${engine}`)).toBe(true);
      expect(await store.admissionState(`fa-3-${engine}`)).toBe('rejected');
      expect(await store.acceptDevice(`fa-3-${engine}`)).toEqual({ kind: 'not-pending', state: 'rejected' });
      expect(await store.removeFactoryCa(fingerprint)).toBe(true);
    });
  });
}

onPgliteAndPostgres('ota-fleet-admission-', admissionSuite);
