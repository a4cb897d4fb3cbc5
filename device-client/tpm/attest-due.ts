// The agent's attestation schedule: after enrollment it registers the TPM's attestation key once,
// then answers with a fresh quote whenever the last one is older than tpm.attestSeconds (and after
// every boot, whose measurement is new). What it did last is kept in stateDir/attestation.json.
import { join } from 'node:path';
import { z } from 'zod';
import type { AttestationQuoteResponse } from '../../schemas/attestation-api.js';
import type { DeviceConfig } from '../config.js';
import type { GatewayClient } from '../gateway/gateway-client.js';
import { readUptimeSeconds } from '../health/uptime.js';
import { readJsonFile, writeJsonFile } from '../state/json-file.js';
import { attestToGateway, registerAttestationKey, type NonceSource } from './attest.js';

const recordSchema = z.strictObject({ registeredAt: z.string(), lastAttestedAt: z.string().optional(), lastStatus: z.string().optional() });

export type AttestOutcome = { kind: 'not-due' } | { kind: 'attested'; answer: AttestationQuoteResponse };

const recordPath = (stateDir: string) => join(stateDir, 'attestation.json');

/** Registers (and activates) the AK once; the record says it was done. `nonce` defaults to GET /v1/nonce. */
export async function ensureAttestationKeyRegistered(config: Pick<DeviceConfig, 'deviceId' | 'stateDir'> & { tpm: NonNullable<DeviceConfig['tpm']> }, client: GatewayClient, nonce?: NonceSource, now = new Date()): Promise<z.infer<typeof recordSchema>> {
  const path = recordPath(config.stateDir);
  const record = await readJsonFile(path, recordSchema);
  if (record) return record;
  await registerAttestationKey({ deviceId: config.deviceId, tpm: config.tpm }, client, nonce);
  const made = { registeredAt: now.toISOString() };
  await writeJsonFile(path, made);
  return made;
}

export async function attestIfDue(config: DeviceConfig, client: GatewayClient, now = new Date()): Promise<AttestOutcome> {
  if (!config.tpm) return { kind: 'not-due' };
  const path = recordPath(config.stateDir);
  const device = { deviceId: config.deviceId, tpm: config.tpm };
  const record = await ensureAttestationKeyRegistered({ ...config, tpm: config.tpm }, client, undefined, now);
  const last = record.lastAttestedAt ? Date.parse(record.lastAttestedAt) : -Infinity;
  const uptime = await readUptimeSeconds(config.health.uptimePath).catch(() => undefined);
  const bootedSince = uptime !== undefined && now.getTime() - uptime * 1000 > last;
  if (!bootedSince && now.getTime() - last < config.tpm.attestSeconds * 1000) return { kind: 'not-due' };
  const answer = await attestToGateway(device, client);
  await writeJsonFile(path, { ...record, lastAttestedAt: now.toISOString(), lastStatus: answer.code ?? answer.status });
  return { kind: 'attested', answer };
}
