// Certificates gated on attestation, against the real mTLS gateway and devices on their own software
// TPMs (issue 15 items 3-4). A TPM device gets its certificate for a software TLS key whose request
// its TPM-held key signs with a fresh quote: a clean quote gives a normal 24 h certificate and the
// device installs over mTLS; a wrong PCR, a replayed quote (old nonce), another device's AK quote
// and a missing quote each give a quarantine certificate (never a normal one), with which the
// device reaches only check-in (the remediation offer), reports, attestation and the remediation
// release's downloads (403 quarantine-restricted otherwise). An AK not resident in the TPM of the
// EK it names cannot be activated, and until it is its quotes do not count.
import { X509Certificate } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkInOnce, type AgentOptions } from '../../device-client/agent/checkin.js';
import { deviceCertificatePath, deviceGatewayClient, ensureDeviceCertificate, pinFleetCa, tlsKeyPath } from '../../device-client/agent/device-certificate.js';
import { deviceKeyPath, enrollDevice } from '../../device-client/agent/enroll.js';
import type { GatewayClient } from '../../device-client/gateway/gateway-client.js';
import { activateCredential } from '../../device-client/tpm/tpm-activate.js';
import { ensureTpmKeys, readTpmPublicArea, TPM_HANDLES } from '../../device-client/tpm/tpm-keys.js';
import { extendPcr, quotePcrs } from '../../device-client/tpm/tpm-pcr.js';
import { tpmDeviceKey } from '../../device-client/tpm/tpm-device-key.js';
import { createDeviceCsr } from '../../identity/csr.js';
import { QUARANTINE_URI } from '../../identity/issue.js';
import { attestationActivateResponseSchema as z_active, attestationKeyResponseSchema, attestationQuoteResponseSchema, quoteQualifyingData } from '../../schemas/attestation-api.js';
import { fromPrivateKey, signEnvelope, type HeldDeviceKey } from '../../schemas/device-envelope.js';
import { generateKeyPairSync } from 'node:crypto';
import { DEVICE_HARDWARE } from '../support/device-releases.js';
import type { PublishedFixture } from '../support/device-releases.js';
import { createSimDevice, type SimDevice } from '../support/device-sim.js';
import { mtlsCaller, startMtlsGateway, type MtlsGateway } from '../support/mtls-gateway.js';
import { sharedSampleReleases } from '../support/shared-releases.js';
import { startSoftwareTpm, swtpmAvailable, type SoftwareTpm } from '../support/swtpm.js';
import { TEST_POLICY } from '../support/attesting-device.js';

const TOKEN = 'attested-certificates-token-0123456789';
const FAST: AgentOptions = { random: () => 0.5, bootCheck: false, metrics: async () => ({ bootCount: 1, metrics: { crashCount: 0, uptimeSeconds: 120, freeMemoryBytes: 64 << 20 }, custom: {} }) };
const SAME_FLOOR_RELEASES = [
  { version: '1.0.0', securityVersion: 1 },
  { version: '1.0.1', securityVersion: 1 },
];
const DOWNLOAD = { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 50, stallTimeoutMs: 10_000 };

interface TpmTlsDevice {
  id: string;
  sim: SimDevice;
  tpm: SoftwareTpm;
  client: GatewayClient;
  key: HeldDeviceKey;
  tcti: { tcti: string; pcr: number };
}

describe.skipIf(!swtpmAvailable('attestation-gated certificates'))('certificates gated on attestation (swtpm, mTLS)', () => {
  let root: string;
  let fixture: PublishedFixture;
  let gateway: MtlsGateway;
  const tpms: SoftwareTpm[] = [];

  /** A provisioned TPM device on 1.0.0, enrolled over TLS with its TPM-held key (no certificate yet). */
  const tpmDevice = async (id: string): Promise<TpmTlsDevice> => {
    const tpm = await startSoftwareTpm(join(root, id, 'tpm'));
    tpms.push(tpm);
    const sim = await createSimDevice(join(root, id, 'device'), fixture, {
      factory: fixture.releases['1.0.0']!,
      tpm,
      config: { deviceId: id, gatewayUrl: gateway.url, transport: { insecurePlainHttp: false }, download: DOWNLOAD },
    });
    await pinFleetCa(sim.config.stateDir, gateway.ca.root.certPem);
    const client = deviceGatewayClient(sim.config);
    await enrollDevice(sim.config, { token: TOKEN, client });
    return { id, sim, tpm, client, key: await tpmDeviceKey(sim.config.tpm!), tcti: { tcti: tpm.tcti, pcr: 16 } };
  };
  /** The device's held certificate, and a caller presenting it with its TLS key. */
  const held = async (d: TpmTlsDevice) => {
    const chain = await readFile(deviceCertificatePath(d.sim.config.stateDir), 'utf8');
    return { cert: new X509Certificate(chain), call: mtlsCaller(gateway.url, gateway.ca.root.certPem, { cert: chain, key: await readFile(tlsKeyPath(d.sim.config.stateDir), 'utf8') }) };
  };
  /** A certificate request for a fresh TLS key with `attestation`, signed by the device's TPM key. */
  const requestWith = async (d: TpmTlsDevice, attestation?: { nonce: string; quote: Awaited<ReturnType<typeof quotePcrs>> }) => {
    const tls = fromPrivateKey(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey);
    const payload = { type: 'certificate-request', deviceId: d.id, csrPem: await createDeviceCsr(tls.privateKey, d.id), sentAt: new Date().toISOString(), ...(attestation && { attestation }) };
    return d.client.requestCertificateSigned(await signEnvelope(payload, d.key));
  };
  const isQuarantine = (pem: string) => new X509Certificate(pem).subjectAltName?.includes(`URI:${QUARANTINE_URI}`) ?? false;
  /** Hours the certificate is still valid (notBefore is backdated a few minutes for clock skew). */
  const hoursLeft = (notAfter: string) => (Date.parse(notAfter) - Date.now()) / 3600_000;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'ota-attack-attested-certs-'));
    // One security version for both: the way back to 1.0.0 is not blocked by the anti-rollback floor
    // (under ATTACK_RELEASES the device refuses it, SECURITY_VERSION_DOWNGRADE, as it must).
    fixture = await sharedSampleReleases(SAME_FLOOR_RELEASES);
    gateway = await startMtlsGateway('ota-attack-attested-certs-gw-', TOKEN, { storeDir: fixture.storeDir, attestation: TEST_POLICY });
  }, 400_000);

  afterAll(async () => {
    for (const tpm of tpms) await tpm.stop();
    await gateway?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('a clean quote: a normal 24 h certificate for a TLS key the TPM key vouches for; the device installs over mTLS; then a tampered slot gets a quarantine certificate that reaches only the remediation release', async () => {
    const d = await tpmDevice('tpm-tls-1');
    const round = await checkInOnce(await d.sim.open(), FAST);
    expect(round.certificate).toMatchObject({ action: 'issued', standing: 'normal' });
    expect(round).toMatchObject({ outcome: 'installed', install: { version: '1.0.1' } });
    const ak = await gateway.fleet.getAttestationKey(d.id);
    expect(ak).toMatchObject({ status: 'active' });
    expect(await gateway.fleet.latestAttestation(d.id)).toMatchObject({ ok: true, releaseVersion: '1.0.0' });
    const normal = await held(d);
    expect(isQuarantine(normal.cert.toString())).toBe(false);
    expect(hoursLeft(normal.cert.validTo)).toBeGreaterThan(23.5);
    expect(hoursLeft(normal.cert.validTo)).toBeLessThanOrEqual(24);
    // The certificate is for the TLS key, not the TPM-held device key (which never leaves the TPM).
    expect(normal.cert.publicKey.export({ format: 'pem', type: 'spki' })).not.toBe(d.key.publicKeyPem);
    expect((await stat(tlsKeyPath(d.sim.config.stateDir))).mode & 0o777).toBe(0o600);
    await expect(stat(deviceKeyPath(d.sim.config.stateDir))).rejects.toMatchObject({ code: 'ENOENT' });
    await d.sim.reboot();
    expect((await checkInOnce(await d.sim.open(), { ...FAST, bootCheck: undefined })).bootCheck).toMatchObject({ outcome: 'committed', version: '1.0.1' });

    // Slot B (1.0.1) tampered, booted, measured: the renewal's quote fails.
    const slotB = d.sim.config.slots.B;
    const bytes = await readFile(slotB);
    bytes[1000] ^= 0xff;
    await writeFile(slotB, bytes);
    await d.sim.reboot();
    // The renewal (the normal certificate's 2/3 point simulated by dropping it: the one-hour answer
    // would already have expired at a simulated clock 17 h ahead).
    await rm(deviceCertificatePath(d.sim.config.stateDir));
    const renewed = await ensureDeviceCertificate(d.sim.config, d.client, d.key);
    expect(renewed).toMatchObject({ action: 'issued', standing: 'quarantine' });
    expect(await gateway.fleet.openQuarantineFor(d.id)).toMatchObject({ code: 'ATTESTATION_FAILED:PCR_UNEXPECTED', remediationVersion: '1.0.0' });
    const quarantined = await held(d);
    expect(isQuarantine(quarantined.cert.toString())).toBe(true);
    expect(quarantined.cert.subject).toContain('OU=quarantine');
    expect(hoursLeft(quarantined.cert.validTo)).toBeLessThanOrEqual(1);

    // Downloads: the remediation release's manifest yes; the newer release and the channel index no.
    const call = quarantined.call;
    expect((await call('GET', `/v1/releases/${DEVICE_HARDWARE}/1.0.0/manifest.json`)).status).toBe(200);
    const newer = await call('GET', `/v1/releases/${DEVICE_HARDWARE}/1.0.1/manifest.json`);
    expect(newer).toMatchObject({ status: 403, json: { error: 'quarantine-restricted' } });
    const image101 = fixture.releases['1.0.1']!.manifest.image.location;
    expect(await call('GET', `/v1/artifacts/${image101}`)).toMatchObject({ status: 403, json: { error: 'quarantine-restricted' } });
    expect(await call('GET', `/v1/releases/${DEVICE_HARDWARE}/channels/stable/index.json`)).toMatchObject({ status: 403, json: { error: 'quarantine-restricted' } });
    expect((await call('HEAD', `/v1/artifacts/${fixture.releases['1.0.0']!.manifest.image.location}`)).status).toBe(200);

    // Check-in under the quarantine certificate: only the way back to 1.0.0, even with a rollout open for 1.0.1.
    await gateway.fleet.createRollout({ id: 'r-q', hardwareId: DEVICE_HARDWARE, channel: 'stable', releaseVersion: '1.0.1', previousVersion: '1.0.0' });
    await gateway.fleet.assignDevices('r-q', [{ deviceId: d.id, ring: 'canary' }], 'offer');
    const back = await checkInOnce(await d.sim.open(), FAST);
    expect(back.certificate).toMatchObject({ action: 'kept', standing: 'quarantine' });
    expect(back.response).toMatchObject({ action: 'rollback', targetVersion: '1.0.0' });
    expect(back.failure, JSON.stringify(back.failure)).toBeUndefined();
    expect(back.outcome).toBe('rolled-back');
  }, 300_000);

  it('a wrong PCR at first issuance: a quarantine certificate (ATTESTATION_FAILED:PCR_UNEXPECTED), not a normal one; check-in holds', async () => {
    const d = await tpmDevice('tpm-tls-pcr');
    await extendPcr(d.tcti, 16, 'ee'.repeat(32));
    const status = await ensureDeviceCertificate(d.sim.config, d.client, d.key);
    expect(status).toMatchObject({ action: 'issued', standing: 'quarantine' });
    expect(isQuarantine((await held(d)).cert.toString())).toBe(true);
    expect(await gateway.fleet.openQuarantineFor(d.id)).toMatchObject({ code: 'ATTESTATION_FAILED:PCR_UNEXPECTED' });
    const round = await checkInOnce(await d.sim.open(), FAST);
    expect(round.response).toMatchObject({ action: 'hold' }); // no clean quote ever: no remediation known, nothing offered
    expect(round.outcome).not.toBe('installed');
  }, 120_000);

  it('a replayed quote (made for an old nonce) and a quote from another device\'s AK: quarantine certificates', async () => {
    const d = await tpmDevice('tpm-tls-replay');
    const other = await tpmDevice('tpm-tls-other');
    expect(await ensureDeviceCertificate(d.sim.config, d.client, d.key)).toMatchObject({ standing: 'normal' });
    const nonce = () => d.client.certificateNonce(d.key, d.id);
    const old = await nonce();
    const recorded = await quotePcrs(d.tcti, [16], quoteQualifyingData(old));
    const fresh = await nonce();
    const replayed = await requestWith(d, { nonce: fresh, quote: recorded });
    expect(replayed).toMatchObject({ standing: 'quarantine', quarantine: { code: 'ATTESTATION_FAILED:QUOTE_NONCE_MISMATCH' } });
    expect(isQuarantine(replayed.certificatePem)).toBe(true);
    // The same nonce twice is refused before anything is judged.
    await expect(requestWith(d, { nonce: fresh, quote: recorded })).rejects.toMatchObject({ status: 409, code: 'nonce-used' });

    await ensureDeviceCertificate(other.sim.config, other.client, other.key);
    const forOther = await other.client.certificateNonce(other.key, other.id);
    const borrowed = await quotePcrs(d.tcti, [16], quoteQualifyingData(forOther)); // d's AK, other's request
    const answer = await requestWith(other, { nonce: forOther, quote: borrowed });
    expect(answer).toMatchObject({ standing: 'quarantine', quarantine: { code: 'ATTESTATION_FAILED:QUOTE_WRONG_AK' } });
    expect(isQuarantine(answer.certificatePem)).toBe(true);
  }, 180_000);

  it('a missing quote: a quarantine certificate (EVIDENCE_REQUIRED in the grace), no quarantine opened; the next request with a quote is normal', async () => {
    const d = await tpmDevice('tpm-tls-missing');
    const first = await ensureDeviceCertificate(d.sim.config, d.client, d.key); // registers and activates the AK, clean quote
    expect(first.standing).toBe('normal');
    // A device that keeps its evidence back: past its last clean quote's age? Here: a fresh device without any quote.
    const bare = await tpmDevice('tpm-tls-bare');
    await ensureTpmKeys(bare.tcti);
    // Register and activate the AK by hand (no quote ever sent), then ask without evidence.
    const nonce = () => bare.client.certificateNonce(bare.key, bare.id);
    const keys = await ensureTpmKeys(bare.tcti);
    const registered = await bare.client.postSigned('attestation key', '/v1/attestation/key', attestationKeyResponseSchema, await signEnvelope({
      type: 'attestation-key', deviceId: bare.id, ak: { pem: keys.attestationKey.pem, qualifiedName: keys.attestationKey.qualifiedName },
      akPublic: (await readTpmPublicArea(bare.tcti, TPM_HANDLES.attestationKey)).toString('base64'), ekPem: keys.endorsementKeyPem, nonce: await nonce(), sentAt: new Date().toISOString(),
    }, bare.key));
    const secret = await activateCredential(bare.tcti, Buffer.from(registered.credential!, 'base64'));
    await bare.client.postSigned('activate', '/v1/attestation/activate', z_active, await signEnvelope({ type: 'attestation-activate', deviceId: bare.id, secret: secret.toString('hex'), nonce: await nonce(), sentAt: new Date().toISOString() }, bare.key));
    const without = await requestWith(bare);
    expect(without).toMatchObject({ standing: 'quarantine', quarantine: { code: 'EVIDENCE_REQUIRED' } });
    expect(isQuarantine(without.certificatePem)).toBe(true);
    expect(await gateway.fleet.openQuarantineFor(bare.id)).toBeUndefined();
    const challenge = await nonce();
    const withQuote = await requestWith(bare, { nonce: challenge, quote: await quotePcrs(bare.tcti, [16], quoteQualifyingData(challenge)) });
    expect(withQuote.standing).toBe('normal');
    expect(hoursLeft(withQuote.notAfter)).toBeGreaterThan(23.5);
    expect(hoursLeft(without.notAfter)).toBeLessThanOrEqual(1);
  }, 180_000);

  it('an AK not resident in the TPM of the EK it names cannot be activated; until then its quotes do not count and it gets no session-key certificate', async () => {
    const victimTpm = await tpmDevice('tpm-tls-ek-a'); // the attacker's device: its own EK ...
    const elsewhere = await tpmDevice('tpm-tls-ek-b'); // ... and an AK in another TPM
    const a = await ensureTpmKeys(victimTpm.tcti);
    const b = await ensureTpmKeys(elsewhere.tcti);
    const nonce = () => victimTpm.client.certificateNonce(victimTpm.key, victimTpm.id);
    const registered = await victimTpm.client.postSigned('attestation key', '/v1/attestation/key', attestationKeyResponseSchema, await signEnvelope({
      type: 'attestation-key', deviceId: victimTpm.id, ak: { pem: b.attestationKey.pem, qualifiedName: b.attestationKey.qualifiedName },
      akPublic: (await readTpmPublicArea(elsewhere.tcti, TPM_HANDLES.attestationKey)).toString('base64'), ekPem: a.endorsementKeyPem, nonce: await nonce(), sentAt: new Date().toISOString(),
    }, victimTpm.key));
    expect(registered).toMatchObject({ status: 'pending-activation', credential: expect.any(String) });
    const credential = Buffer.from(registered.credential!, 'base64');
    // Neither TPM can unwrap it: A has the EK but not that AK, B has the AK but not A's EK.
    await expect(activateCredential(victimTpm.tcti, credential)).rejects.toMatchObject({ code: 'TPM_TOOL_FAILED' });
    await expect(activateCredential(elsewhere.tcti, credential)).rejects.toMatchObject({ code: 'TPM_TOOL_FAILED' });
    // A guessed secret is refused and changes nothing.
    const guess = { type: 'attestation-activate', deviceId: victimTpm.id, secret: 'ab'.repeat(32), nonce: await nonce(), sentAt: new Date().toISOString() };
    await expect(victimTpm.client.postSigned('activate', '/v1/attestation/activate', z_active, await signEnvelope(guess, victimTpm.key))).rejects.toMatchObject({ status: 403, code: 'activation-failed' });
    expect(await gateway.fleet.getAttestationKey(victimTpm.id)).toMatchObject({ status: 'pending-activation', activatedAt: null });
    // Quotes by that AK do not count: refused, nothing recorded.
    const n = await nonce();
    const quote = await quotePcrs(elsewhere.tcti, [16], quoteQualifyingData(n));
    const answer = await victimTpm.client.postSigned('quote', '/v1/attestation/quote', attestationQuoteResponseSchema, await signEnvelope({ type: 'attestation-quote', deviceId: victimTpm.id, quote, nonce: n, sentAt: new Date().toISOString() }, victimTpm.key))
      .catch((error: { status?: number; code?: string }) => error);
    // Without a client certificate the quote endpoint is closed under mTLS; the certificate itself is refused:
    expect(answer).toMatchObject({ status: 401, code: 'client-certificate-required' });
    await expect(requestWith(victimTpm)).rejects.toMatchObject({ status: 400, code: 'csr-key-mismatch' });
    expect(await gateway.fleet.certificatesOf(victimTpm.id)).toEqual([]);
    expect(await gateway.fleet.latestAttestation(victimTpm.id)).toBeUndefined();
  }, 180_000);
});
