// The device's side of remote attestation: register the TPM's attestation key with the gateway
// (once, at admission), and answer a challenge: fetch a nonce, let the TPM quote the boot PCR with
// sha256(nonce) as qualifying data, and send the quote in an envelope signed by the TPM device key.
import { attestationKeyResponseSchema, attestationQuoteResponseSchema, quoteQualifyingData, type AttestationKeyResponse, type AttestationQuoteResponse } from '../../schemas/attestation-api.js';
import { signEnvelope } from '../../schemas/device-envelope.js';
import type { GatewayClient } from '../gateway/gateway-client.js';
import { ensureTpmKeys } from './tpm-keys.js';
import { quotePcrs } from './tpm-pcr.js';
import { tpmDeviceKey } from './tpm-device-key.js';
import type { TpmConnection } from './tpm-tool.js';

export interface AttestingDevice {
  deviceId: string;
  tpm: TpmConnection & { pcr: number };
}

export async function registerAttestationKey(device: AttestingDevice, client: GatewayClient): Promise<AttestationKeyResponse> {
  const keys = await ensureTpmKeys(device.tpm);
  const payload = {
    type: 'attestation-key',
    deviceId: device.deviceId,
    ak: { pem: keys.attestationKey.pem, qualifiedName: keys.attestationKey.qualifiedName },
    ekPem: keys.endorsementKeyPem,
    nonce: await client.nonce(device.deviceId),
    sentAt: new Date().toISOString(),
  };
  return client.postSigned('attestation key', '/v1/attestation/key', attestationKeyResponseSchema, await signEnvelope(payload, await tpmDeviceKey(device.tpm)));
}

export async function attestToGateway(device: AttestingDevice, client: GatewayClient): Promise<AttestationQuoteResponse> {
  const nonce = await client.nonce(device.deviceId);
  const quote = await quotePcrs(device.tpm, [device.tpm.pcr], quoteQualifyingData(nonce));
  const payload = { type: 'attestation-quote', deviceId: device.deviceId, quote, nonce, sentAt: new Date().toISOString() };
  return client.postSigned('attestation quote', '/v1/attestation/quote', attestationQuoteResponseSchema, await signEnvelope(payload, await tpmDeviceKey(device.tpm)));
}
