// The attestation endpoints (docs/attestation.md), each signed by the device key and spending a
// nonce: POST /v1/attestation/key registers the TPM attestation key once (first one wins; another
// is 409), after the EK's certificate is judged against the TPM vendor CAs (refused: 403 with the
// code, nothing recorded), and answers with a credential made for the AK's name against the EK; POST
// /v1/attestation/activate takes the secret only that TPM could unwrap, and until then the AK is
// pending-activation and its quotes do not count; POST /v1/attestation/quote verifies a quote over
// that nonce (attestation/verify-quote.ts), records the result with its evidence and, under an
// attestation policy, quarantines on failure.
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { judgeEndorsementKey, type EkTrust } from '../attestation/ek-certificate.js';
import { activationSecret, credentialFile, makeCredential, MakeCredentialError } from '../attestation/make-credential.js';
import { attestationKeyName, TpmPublicError } from '../attestation/tpm-public.js';
import type { AttestationPolicy } from '../attestation/standing.js';
import { verifyQuote, type SubmittedQuote } from '../attestation/verify-quote.js';
import {
  attestationActivateRequestSchema,
  attestationKeyRequestSchema,
  attestationQuoteRequestSchema,
  type AttestationActivateResponse,
  type AttestationKeyResponse,
  type AttestationQuoteResponse,
} from '../schemas/attestation-api.js';
import type { EkTrustRecord, EnrolledDevice, FleetStore } from '../fleet/fleet-store.js';
import { samePem } from '../fleet/devices.js';
import type { ArtifactStore } from '../stores/artifact-store.js';
import { allowedMeasurements, deviceStanding, enforceStanding } from './attestation-gate.js';
import { HttpError, readJsonBody, sendJson } from './http.js';
import { nonceError, verifySignedRequest, type Certified } from './signed-request.js';

/** With mTLS, Certified carries the client certificate's device: an envelope of another device is refused. */
export interface AttestationApi extends Certified {
  fleet: FleetStore;
  store: ArtifactStore;
  /** Without a policy quotes are verified and recorded, and nothing is quarantined. */
  attestation?: AttestationPolicy;
}

async function spend(fleet: FleetStore, deviceId: string, nonce: string): Promise<void> {
  const spent = await fleet.consumeNonce(deviceId, nonce);
  if (spent !== 'ok') throw nonceError(spent);
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

export async function registerAttestationKey(api: AttestationApi, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { device, message } = await verifySignedRequest(api.fleet, await readJsonBody(req), attestationKeyRequestSchema, api);
  // Judged before the nonce is spent: a refused registration changes nothing.
  let akName: string;
  try {
    akName = attestationKeyName(Buffer.from(message.akPublic, 'base64'), message.ak.pem);
  } catch (error) {
    if (error instanceof TpmPublicError) throw new HttpError(400, 'ak-public-invalid', `akPublic: ${error.message}`);
    throw error;
  }
  const secret = activationSecret();
  let credential: Buffer;
  try {
    credential = credentialFile(makeCredential(message.ekPem, Buffer.from(akName, 'hex'), secret));
  } catch (error) {
    if (error instanceof MakeCredentialError) throw new HttpError(400, 'ek-unsupported', `ekPem: ${error.message}`);
    throw error;
  }
  const ek = await judgeEndorsementKey({
    ekPem: message.ekPem,
    certificateDer: message.ekCertificate === undefined ? undefined : Buffer.from(message.ekCertificate, 'base64'),
    vendorCas: await api.fleet.listTpmVendorCas(),
    requireCertificate: api.attestation?.requireEkCertificate ?? false,
    now: new Date(),
  });
  if (!ek.ok) throw new HttpError(ek.code === 'ATTESTATION_EK_CERTIFICATE_MALFORMED' ? 400 : 403, ek.code, `ekCertificate: ${ek.detail}`);
  // An AK is bound to the EK it was first registered with: a fresh credential for the same AK
  // against another EK would let a key that failed the EK check above swap in one that passes.
  const existing = await api.fleet.getAttestationKey(device.id);
  if (existing && existing.akPem.trim() === message.ak.pem.trim() && !samePem(existing.ekPem, message.ekPem)) {
    throw new HttpError(409, 'ATTESTATION_EK_MISMATCH', `device ${device.id} registered this attestation key with another EK on ${existing.registeredAt.toISOString()}; an operator must remove the device to change it`);
  }
  await spend(api.fleet, device.id, message.nonce);
  const ekRecord = ekTrustRecord(ek, message.ekCertificate);
  const outcome = await api.fleet.registerAttestationKey({ deviceId: device.id, akPem: message.ak.pem, akQualifiedName: message.ak.qualifiedName, ekPem: message.ekPem, activation: { akName, secretSha256: sha256(secret) }, ek: ekRecord });
  if (outcome.kind === 'conflict') throw new HttpError(409, 'attestation-key-exists', `device ${device.id} registered another attestation key on ${outcome.key.registeredAt.toISOString()}; an operator must remove the device to change it`);
  const pending = outcome.key.status === 'pending-activation';
  // The same AK again while pending: a fresh credential replaces the last one (a lost answer is retried).
  if (outcome.kind === 'same' && pending) await api.fleet.renewActivationSecret(device.id, sha256(secret));
  const body: AttestationKeyResponse = {
    deviceId: device.id,
    created: outcome.kind === 'created',
    registeredAt: outcome.key.registeredAt.toISOString(),
    status: outcome.key.status,
    ...(pending ? { credential: credential.toString('base64') } : {}),
    ...(outcome.key.ek ? { ek: { trust: outcome.key.ek.trust, ...(outcome.key.ek.caFingerprint ? { caFingerprint: outcome.key.ek.caFingerprint } : {}), ...(outcome.key.ek.warning ? { warning: outcome.key.ek.warning } : {}) } } : {}),
  };
  sendJson(res, outcome.kind === 'created' ? 201 : 200, body);
}

function ekTrustRecord(ek: EkTrust & { ok: true }, certificate: string | undefined): EkTrustRecord {
  return ek.trust === 'vendor-ca'
    ? { trust: 'vendor-ca', caFingerprint: ek.caFingerprint, warning: null, certificate: certificate ?? null }
    : { trust: 'unverified', caFingerprint: null, warning: ek.warning, certificate: certificate ?? null };
}

export async function activateAttestationKey(api: AttestationApi, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { device, message } = await verifySignedRequest(api.fleet, await readJsonBody(req), attestationActivateRequestSchema, api);
  await spend(api.fleet, device.id, message.nonce);
  const outcome = await api.fleet.activateAttestationKey(device.id, sha256(Buffer.from(message.secret, 'hex')));
  if (outcome === 'unknown') throw new HttpError(409, 'ak-not-registered', `device ${device.id} has no attestation key to activate: POST /v1/attestation/key first`);
  if (outcome === 'wrong-secret') {
    throw new HttpError(403, 'activation-failed', `the secret is not the one the credential for ${device.id}'s AK carries: the AK is not resident in the TPM of the EK it was registered with; it stays pending-activation`);
  }
  sendJson(res, 200, { deviceId: device.id, status: 'active' } satisfies AttestationActivateResponse);
}

export async function submitQuote(api: AttestationApi, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { device, message } = await verifySignedRequest(api.fleet, await readJsonBody(req), attestationQuoteRequestSchema, api);
  await spend(api.fleet, device.id, message.nonce);
  sendJson(res, 200, await verifyAndRecordQuote(api, device, message.quote, message.nonce));
}

/**
 * Verifies a quote over a nonce the caller has just spent for this device, records the result with
 * its evidence and, under a policy, opens a quarantine on failure. Certificate issuance and renewal
 * can call this with the quote a renewal request carries, then gate on the standing it returns.
 */
export async function verifyAndRecordQuote(api: AttestationApi, device: EnrolledDevice, quote: SubmittedQuote, nonce: string): Promise<AttestationQuoteResponse> {
  const key = await api.fleet.getAttestationKey(device.id);
  if (key?.status === 'pending-activation') {
    // Not evidence yet: nothing is recorded, the standing is what it was.
    const standing = api.attestation ? (await deviceStanding(api.fleet, api.attestation, device)).standing : 'recorded';
    return { status: 'refused', code: 'AK_NOT_ACTIVATED', detail: `the attestation key of ${device.id} is pending activation (POST /v1/attestation/activate): its quotes do not count`, standing };
  }
  const state = (await api.fleet.getDeviceWithState(device.id))?.state;
  const previous = (await api.fleet.latestAttestation(device.id, { ok: true }))?.evidence.counters as { resetCount: number; restartCount: number; clock: string } | undefined;
  const verdict = verifyQuote({
    quote,
    nonce,
    ak: key && { pem: key.akPem, qualifiedName: key.akQualifiedName },
    allowed: await allowedMeasurements(api.store, device, state?.securityVersion ?? 0),
    previous,
  });
  await api.fleet.recordAttestation({
    deviceId: device.id,
    ok: verdict.ok,
    code: verdict.ok ? null : verdict.code,
    detail: verdict.ok ? null : verdict.detail,
    releaseVersion: verdict.ok ? verdict.version : null,
    evidence: { ...verdict.evidence, ...(!verdict.ok && verdict.pcr !== undefined ? { pcr: verdict.pcr, expected: verdict.expected } : {}) },
  });
  let standing = 'recorded';
  if (api.attestation) {
    const quarantine = await enforceStanding(api.fleet, api.attestation, device);
    standing = quarantine ? 'quarantine' : (await deviceStanding(api.fleet, api.attestation, device)).standing;
  }
  return verdict.ok ? { status: 'attested', release: verdict.version, standing } : { status: 'refused', code: verdict.code, detail: verdict.detail, standing };
}
