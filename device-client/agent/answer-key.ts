// The gateway answer key a device pins (config gatewayAnswerKeyPath), read with a bound: a
// missing or unreadable pin is an error, never a silent fallback to unsigned answers.
import type { DeviceConfig } from '../config.js';
import { readFileAtMost } from '../../platform/bounded-read.js';
import { pinnedAnswerKey, type PinnedAnswerKey } from '../gateway/answer-verification.js';

const MAX_KEY_PEM_BYTES = 16 * 1024;

export async function loadPinnedAnswerKey(config: Pick<DeviceConfig, 'gatewayAnswerKeyPath'>): Promise<PinnedAnswerKey | undefined> {
  if (!config.gatewayAnswerKeyPath) return undefined;
  const pem = (await readFileAtMost(config.gatewayAnswerKeyPath, MAX_KEY_PEM_BYTES, 'gatewayAnswerKeyPath')).toString('utf8');
  try {
    return pinnedAnswerKey(pem);
  } catch (error) {
    throw new Error(`gatewayAnswerKeyPath ${config.gatewayAnswerKeyPath}: not an Ed25519 or ECDSA P-256 public key: ${(error as Error).message}`);
  }
}
