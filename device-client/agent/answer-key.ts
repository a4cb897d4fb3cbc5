// The gateway answer key a device pins (config gatewayAnswerKeyPath, else the copy `ota-device
// provision --answer-key` put in stateDir), read with a bound: a missing or unreadable pin is an
// error, never a silent fallback to unsigned answers. On a device with a TUF root the keys its last
// verified walk listed take its place (loadAnswerKeys, trust-precedence.ts).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DeviceConfig } from '../config.js';
import { writeFileAtomic } from '../../platform/atomic-write.js';
import { readFileAtMost } from '../../platform/bounded-read.js';
import { pinnedAnswerKey, type AnswerKey, type PinnedAnswerKey } from '../gateway/answer-verification.js';
import { pinsTufRoot } from './device-trust.js';
import { readGatewayTrust } from './gateway-trust.js';
import { answerKeysToTrust } from './trust-precedence.js';

const MAX_KEY_PEM_BYTES = 16 * 1024;

/** Where provisioning pins the answer key when the config names no path. */
export const pinnedAnswerKeyPath = (stateDir: string) => join(stateDir, 'gateway-answer-key.pem');

function parsePin(pem: string, where: string): AnswerKey {
  try {
    return pinnedAnswerKey(pem);
  } catch (error) {
    throw new Error(`${where}: not an Ed25519 or ECDSA P-256 public key: ${(error as Error).message}`);
  }
}

export async function loadPinnedAnswerKey(config: Pick<DeviceConfig, 'gatewayAnswerKeyPath'> & Partial<Pick<DeviceConfig, 'stateDir'>>): Promise<AnswerKey | undefined> {
  const provisioned = config.stateDir === undefined ? undefined : pinnedAnswerKeyPath(config.stateDir);
  const path = config.gatewayAnswerKeyPath ?? (provisioned && existsSync(provisioned) ? provisioned : undefined);
  if (!path) return undefined;
  const pem = (await readFileAtMost(path, MAX_KEY_PEM_BYTES, 'gatewayAnswerKeyPath')).toString('utf8');
  return parsePin(pem, `gatewayAnswerKeyPath ${path}`);
}

/**
 * The keys this check-in's answer must be signed by: the TUF list of the last verified walk on a device
 * pinning a TUF root, else the pinned key (trust-precedence.ts). A configured pin that does not read is
 * an error either way.
 */
export async function loadAnswerKeys(config: Pick<DeviceConfig, 'gatewayAnswerKeyPath' | 'stateDir' | 'trust'>): Promise<PinnedAnswerKey | undefined> {
  const pinned = await loadPinnedAnswerKey(config);
  return answerKeysToTrust({ tufRoot: pinsTufRoot(config), listed: await readGatewayTrust(config), pinned });
}

/** Reads and checks an answer key file (from `ota fleet answer-key`); writes nothing. */
export async function readAnswerKeyFile(file: string): Promise<string> {
  const pem = (await readFileAtMost(file, MAX_KEY_PEM_BYTES, '--answer-key')).toString('utf8');
  parsePin(pem, `--answer-key ${file}`);
  return pem;
}

/** Pins a checked answer key in stateDir (0600). */
export async function pinAnswerKey(stateDir: string, pem: string): Promise<void> {
  parsePin(pem, 'the answer key');
  await writeFileAtomic(pinnedAnswerKeyPath(stateDir), pem, { mode: 0o600 });
}
