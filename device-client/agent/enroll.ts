// Enrollment: the device makes its own key pair (the private half never leaves stateDir, mode
// 0600), or holds its factory key, and presents the public half in a body signed by it (proof of
// possession), with what admits it (docs/device-agent.md "Admission"): nothing more when the
// operator preauthorized it, a single-use per-device token, or its factory certificate chain.
// Channel and labels are the operator's, never sent. Safe to repeat: the same key re-enrolls
// idempotently (created: false); a factory identity may answer `pending` until an operator accepts.
import { join } from 'node:path';
import { z } from 'zod';
import { keyAlgorithmSchema, type EnrollClaim, type EnrollResponse } from '../../schemas/device-api.js';
import { signEnrollClaimWith } from '../../schemas/enroll-proof.js';
import type { DeviceConfig } from '../config.js';
import type { DeviceKey, DeviceSigner } from '../../schemas/device-envelope.js';
import { loadOrCreateDeviceKey } from '../reports/device-key.js';
import { GatewayClient } from '../gateway/gateway-client.js';
import { deviceGatewayClient } from './device-certificate.js';
import { tpmDeviceKey } from '../tpm/tpm-device-key.js';
import { readJsonFile, writeJsonFile } from '../state/json-file.js';
import { forgetEnrollmentToken, storedEnrollmentToken, storedFactoryChain } from './enrollment-credentials.js';

export function deviceKeyPath(stateDir: string): string {
  return join(stateDir, 'device-key.pem');
}

const enrollmentRecordSchema = z
  .object({ deviceId: z.string(), gatewayUrl: z.string(), algorithm: keyAlgorithmSchema, enrolledAt: z.string() })
  .strict();
export type EnrollmentRecord = z.infer<typeof enrollmentRecordSchema>;

export function enrollmentPath(stateDir: string): string {
  return join(stateDir, 'enrollment.json');
}

export async function readEnrollment(stateDir: string): Promise<EnrollmentRecord | undefined> {
  return readJsonFile(enrollmentPath(stateDir), enrollmentRecordSchema);
}

/** The device key, made on first use: in the TPM when the config names one, else a file of the configured algorithm. */
export async function deviceKeyFor(config: DeviceConfig): Promise<DeviceSigner> {
  if (config.tpm) return tpmDeviceKey(config.tpm);
  return loadOrCreateDeviceKey(deviceKeyPath(config.stateDir), config.enrollment.keyAlgorithm);
}

export class EnrollmentError extends Error {
  override name = 'EnrollmentError';
}

/** The token: given explicitly, else from the environment variable the config names; none is fine (preauthorized, factory identity). */
export function enrollmentToken(config: DeviceConfig, explicit?: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return explicit ?? (env[config.enrollment.tokenEnv] || undefined);
}

export type EnrollResult = EnrollResponse & {
  algorithm: DeviceKey['algorithm'];
  gatewayUrl: string;
};

/** Whether the device holds a provisioned credential (stored token or factory identity) to enroll with on its own. */
export async function hasEnrollmentCredential(stateDir: string): Promise<boolean> {
  return (await storedEnrollmentToken(stateDir)) !== undefined || (await storedFactoryChain(stateDir)) !== undefined;
}

export async function enrollDevice(config: DeviceConfig, options: { token?: string; client?: GatewayClient } = {}): Promise<EnrollResult> {
  if (!config.gatewayUrl) throw new EnrollmentError('no gatewayUrl in the device configuration');
  const client = options.client ?? deviceGatewayClient(config);
  const key = await deviceKeyFor(config);
  const token = options.token ?? (await storedEnrollmentToken(config.stateDir));
  const factoryChain = await storedFactoryChain(config.stateDir);
  const claim: EnrollClaim = {
    type: 'enroll',
    deviceId: config.deviceId,
    hardwareId: config.hardwareId,
    publicKey: { algorithm: key.algorithm, pem: key.publicKeyPem },
    ...(factoryChain && { factoryChain }),
  };
  const answer = await client.enroll(token, await signEnrollClaimWith(claim, key));
  if (answer.status === 'admitted') {
    await writeJsonFile(enrollmentPath(config.stateDir), { deviceId: answer.deviceId, gatewayUrl: config.gatewayUrl, algorithm: key.algorithm, enrolledAt: answer.enrolledAt });
    await forgetEnrollmentToken(config.stateDir); // spent: single use
  }
  return { ...answer, algorithm: key.algorithm, gatewayUrl: config.gatewayUrl };
}
