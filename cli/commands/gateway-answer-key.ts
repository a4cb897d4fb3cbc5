// The gateway answer key (docs/device-api.md, "Signed answers"): loaded, or created on first use
// like the release key, by `ota gateway` and `ota serve`; `ota fleet answer-key` prints its public
// key for devices to pin (device config gatewayAnswerKeyPath).
import type { Command } from 'commander';
import { fromPrivateKey, type DeviceKey } from '../../schemas/device-envelope.js';
import { loadOrCreateSigningKey, publicKeyPathFor } from '../../signing/keys.js';
import { configFrom } from '../context.js';
import { printResult, progress } from '../output.js';

export async function loadGatewayAnswerKey(path: string, opts: { json?: boolean } = {}): Promise<DeviceKey> {
  const key = await loadOrCreateSigningKey(path);
  if (key.created) progress(opts, `created the gateway answer key ${path} (first use); devices pin ${publicKeyPathFor(path)}`);
  return fromPrivateKey(key.privateKey);
}

export function registerAnswerKeyCommand(fleet: Command): void {
  fleet
    .command('answer-key')
    .description("print the public key that signs the gateway's check-in answers (pin it on devices: gatewayAnswerKeyPath)")
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      const path = configFrom(command).gateway.answerKeyPath;
      const key = await loadGatewayAnswerKey(path, opts);
      printResult(opts, { privateKey: path, publicKey: publicKeyPathFor(path), algorithm: key.algorithm, publicKeyPem: key.publicKeyPem }, () => key.publicKeyPem.trimEnd());
    });
}
