// `ota keys generate`: an ECDSA P-256 signing key for air-gapped, key-based signing.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { loadOrCreateSigningKey, publicKeyPathFor } from '../../signing/keys.js';
import { pinPublicKeyInFile } from '../../signing/trust-root.js';
import { configFrom } from '../context.js';
import { printResult } from '../output.js';

export function registerKeysCommands(program: Command): void {
  program
    .command('keys')
    .description('manage signing keys')
    .command('generate')
    .description('create an ECDSA P-256 signing key (mode 0600) and pin its public key in the trust root')
    .option('--out <file>', 'private key path (default: signing.keyPath)')
    .option('--trust-root <file>', 'trust root to pin the public key in (default: trust.trustedRootPath)')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { out?: string; trustRoot?: string; json?: boolean }, command: Command) => {
      const config = configFrom(command);
      const keyPath = opts.out ?? config.signing.keyPath;
      if (existsSync(keyPath)) throw new Error(`${keyPath} already exists; refusing to overwrite a signing key`);
      const key = await loadOrCreateSigningKey(keyPath);
      const trustRoot = opts.trustRoot ?? config.trust.trustedRootPath;
      const hint = await pinPublicKeyInFile(trustRoot, key.publicKey, { hint: key.hint });
      const result = { privateKey: keyPath, publicKey: publicKeyPathFor(keyPath), hint, trustRoot };
      printResult(opts, result, () => `private key ${keyPath} (0600)\npublic key  ${result.publicKey}\npinned as   ${hint} in ${trustRoot}`);
    });
}
