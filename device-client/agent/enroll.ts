// Enrollment: the device makes its own key pair (the private half never leaves stateDir, mode
// 0600), presents the public half with a one-time token, and records that it is enrolled. Safe
// to repeat: the same key re-enrolls idempotently (the gateway answers created: false).
import { join } from 'node:path';
import { z } from 'zod';
import { keyAlgorithmSchema, type EnrollResponse } from '../../schemas/device-api.js';
import type { DeviceConfig } from '../config.js';
import type { DeviceKey, DeviceSigner } from '../../schemas/device-envelope.js';
import { loadOrCreateDeviceKey } from '../reports/device-key.js';
import { tpmDeviceKey } from '../tpm/tpm-device-key.js';
import { GatewayClient } from '../gateway/gateway-client.js';
import { readJsonFile, writeJsonFile } from '../state/json-file.js';

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

/** The token: given explicitly, else from the environment variable the config names. */
export function enrollmentToken(config: DeviceConfig, explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  const token = explicit ?? env[config.enrollment.tokenEnv];
  if (!token) throw new EnrollmentError(`no enrollment token: pass --token or set ${config.enrollment.tokenEnv}`);
  return token;
}

export interface EnrollResult extends EnrollResponse {
  algorithm: DeviceKey['algorithm'];
  gatewayUrl: string;
}

export async function enrollDevice(config: DeviceConfig, options: { token: string; client?: GatewayClient }): Promise<EnrollResult> {
  if (!config.gatewayUrl) throw new EnrollmentError('no gatewayUrl in the device configuration');
  const client = options.client ?? new GatewayClient(config.gatewayUrl);
  const key = await deviceKeyFor(config);
  const answer = await client.enroll(options.token, {
    deviceId: config.deviceId,
    hardwareId: config.hardwareId,
    channel: config.channel,
    labels: config.labels,
    publicKey: { algorithm: key.algorithm, pem: key.publicKeyPem },
  });
  await writeJsonFile(enrollmentPath(config.stateDir), { deviceId: answer.deviceId, gatewayUrl: config.gatewayUrl, algorithm: key.algorithm, enrolledAt: answer.enrolledAt });
  return { ...answer, algorithm: key.algorithm, gatewayUrl: config.gatewayUrl };
}
