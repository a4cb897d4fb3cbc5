// The device's side of remote attestation: register the TPM's attestation key with the gateway
// (once, at admission) and activate it (the gateway's credential, unwrapped by this TPM only), and
// answer a challenge: fetch a nonce, let the TPM quote the boot PCR with sha256(nonce) as
// qualifying data, and send the quote in an envelope signed by the TPM device key.
import {
  attestationActivateResponseSchema,
  attestationKeyResponseSchema,
  attestationQuoteResponseSchema,
  quoteQualifyingData,
  type AttestationKeyResponse,
  type AttestationQuoteResponse,
} from '../../schemas/attestation-api.js';
import { signEnvelope } from '../../schemas/device-envelope.js';
import type { GatewayClient } from '../gateway/gateway-client.js';
import { activateCredential } from './tpm-activate.js';
import { ensureTpmKeys, readTpmPublicArea, TPM_HANDLES } from './tpm-keys.js';
import { quotePcrs } from './tpm-pcr.js';
import { tpmDeviceKey } from './tpm-device-key.js';
import type { TpmConnection } from './tpm-tool.js';

export interface AttestingDevice {
  deviceId: string;
  tpm: TpmConnection & { pcr: number };
}

/** Where a signed request's nonce comes from: GET /v1/nonce (with a client certificate), or POST /v1/certificates/nonce before one. */
export type NonceSource = () => Promise<string>;

/** Registers the AK (its public area too) and, when the gateway answers with a credential, activates it. */
export async function registerAttestationKey(device: AttestingDevice, client: GatewayClient, nonce: NonceSource = () => client.nonce(device.deviceId)): Promise<AttestationKeyResponse> {
  const keys = await ensureTpmKeys(device.tpm);
  const signer = await tpmDeviceKey(device.tpm);
  const payload = {
    type: 'attestation-key',
    deviceId: device.deviceId,
    ak: { pem: keys.attestationKey.pem, qualifiedName: keys.attestationKey.qualifiedName },
    akPublic: (await readTpmPublicArea(device.tpm, TPM_HANDLES.attestationKey)).toString('base64'),
    ekPem: keys.endorsementKeyPem,
    // The manufacturer's certificate of the EK: the gateway checks it against its TPM vendor CAs.
    ...(keys.endorsementCertificate ? { ekCertificate: keys.endorsementCertificate.toString('base64') } : {}),
    nonce: await nonce(),
    sentAt: new Date().toISOString(),
  };
  const answer = await client.postSigned('attestation key', '/v1/attestation/key', attestationKeyResponseSchema, await signEnvelope(payload, signer));
  if (answer.status !== 'pending-activation' || !answer.credential) return answer;
  const secret = await activateCredential(device.tpm, Buffer.from(answer.credential, 'base64'), TPM_HANDLES.attestationKey, keys.endorsementKeyAlgorithm);
  const activation = { type: 'attestation-activate', deviceId: device.deviceId, secret: secret.toString('hex'), nonce: await nonce(), sentAt: new Date().toISOString() };
  const activated = await client.postSigned('attestation key activation', '/v1/attestation/activate', attestationActivateResponseSchema, await signEnvelope(activation, signer));
  const { credential: _done, ...registered } = answer;
  return { ...registered, status: activated.status };
}

export async function attestToGateway(device: AttestingDevice, client: GatewayClient): Promise<AttestationQuoteResponse> {
  const nonce = await client.nonce(device.deviceId);
  const quote = await quotePcrs(device.tpm, [device.tpm.pcr], quoteQualifyingData(nonce));
  const payload = { type: 'attestation-quote', deviceId: device.deviceId, quote, nonce, sentAt: new Date().toISOString() };
  return client.postSigned('attestation quote', '/v1/attestation/quote', attestationQuoteResponseSchema, await signEnvelope(payload, await tpmDeviceKey(device.tpm)));
}
