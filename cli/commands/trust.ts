// `ota trust init|add-signer|revoke-signer|rotate-root|refresh|show`: the fleet's TUF repository
// (docs/trust.md). Metadata goes to the artifact store (trust/metadata-store.ts), keys stay in files.
import type { Command } from 'commander';
import { loadOrCreateSigningKey } from '../../signing/keys.js';
import { openArtifactStore, type ArtifactStore } from '../../stores/index.js';
import { TufAlreadyInitializedError, TufInvalidChangeError } from '../../trust/errors.js';
import { publicKeyFile, signingKeyFile, trustKeyPaths, type TrustKeyPaths } from '../../trust/key-files.js';
import { localTrustDir, writeLocalTrust } from '../../trust/local-trust.js';
import { hasRepository, readRepository, writeRepository, type StoredRepository } from '../../trust/metadata-store.js';
import { addSigner, createRepository, refreshOnline, revokeSigner, type OnlineSigning, type TufRepository } from '../../trust/repository.js';
import { rotateRoot } from '../../trust/root-rotation.js';
import { tufPublicKey } from '../../trust/tuf-keys.js';
import { configFrom } from '../context.js';
import { parseNonNegativeInt } from '../options.js';
import { printResult } from '../output.js';
import { describeRepository, renderRepository } from './trust-format.js';

interface KeyOptions {
  targetsKey?: string;
  onlineKey?: string;
  json?: boolean;
}

export function registerTrustCommands(program: Command): void {
  const trust = program.command('trust').description("the fleet's TUF repository: root keys and threshold, release signers, freshness");
  const withKeys = (command: Command) =>
    command
      .option('--targets-key <file>', 'private key of the targets role (default: trust.keysDir/targets.pem)')
      .option('--online-key <file>', 'private key of the snapshot and timestamp roles (default: trust.keysDir/online.pem)')
      .option('--json', 'print the result as JSON');

  withKeys(trust.command('init'))
    .description('create the repository: root (threshold M of the root keys), targets, snapshot, timestamp; pins root 1 here')
    .option('--threshold <m>', 'root signatures needed for a new root', '1')
    .option('--root-key <file...>', 'root private keys, created (0600) when missing (default: trust.keysDir/root-1.pem ... root-M.pem)')
    .option('--signer <file...>', 'release signers: public or private key PEM (default: the release key, signing.keyPath)')
    .action(async (opts: KeyOptions & { threshold: string; rootKey?: string[]; signer?: string[] }, command: Command) => {
      await withTrust(command, opts, async ({ store, paths, config, signing }) => {
        if (await hasRepository(store)) throw new TufAlreadyInitializedError(`${store.location} already has a TUF repository: use rotate-root, add-signer or revoke-signer`);
        const threshold = parseNonNegativeInt('--threshold', opts.threshold);
        const rootFiles = opts.rootKey ?? Array.from({ length: Math.max(threshold, 1) }, (_, i) => paths.root(i + 1));
        const rootKeys = await Promise.all(rootFiles.map(signingKeyFile));
        const signers = opts.signer
          ? await Promise.all(opts.signer.map(publicKeyFile))
          : [tufPublicKey((await loadOrCreateSigningKey(config.signing.keyPath)).publicKey)];
        const repo = createRepository({ rootKeys, threshold, signers, ...(await signing()) });
        await writeRepository(store, repo);
        await writeLocalTrust(localTrustDir(config.trust.trustedRootPath), { root: repo.roots[0]!, seen: {} });
        return { repo, keyFiles: { root: rootFiles, targets: opts.targetsKey ?? paths.targets, online: opts.onlineKey ?? paths.online } };
      });
    });

  withKeys(trust.command('add-signer'))
    .description('list a release signer in a new targets version')
    .requiredOption('--key <file>', "the signer's public (or private) key PEM")
    .option('--role <role>', 'the role the signer joins (targets)', 'targets')
    .action(async (opts: KeyOptions & { key: string; role: string }, command: Command) => {
      targetsRoleOnly(opts.role);
      await changeRepository(command, opts, async (repo, signing) => addSigner(repo, await publicKeyFile(opts.key), await signing()));
    });

  withKeys(trust.command('revoke-signer'))
    .description('remove a release signer in a new targets version; releases it signed are refused (TUF_SIGNER_REVOKED)')
    .option('--key <file>', "the signer's public (or private) key PEM")
    .option('--key-id <id>', 'the TUF key id instead of the key file')
    .option('--role <role>', 'the role the signer leaves (targets)', 'targets')
    .action(async (opts: KeyOptions & { key?: string; keyId?: string; role: string }, command: Command) => {
      targetsRoleOnly(opts.role);
      if (!opts.key === !opts.keyId) throw new Error('revoke-signer needs --key <file> or --key-id <id>');
      await changeRepository(command, opts, async (repo, signing) => revokeSigner(repo, opts.keyId ?? (await publicKeyFile(opts.key!)).keyID, await signing()));
    });

  withKeys(trust.command('rotate-root'))
    .description('write root N+1, signed by the threshold of root N and of N+1 (pass the private root keys that sign)')
    .requiredOption('--root-key <file...>', 'private root keys that sign: enough of root N and of the new root')
    .option('--new-root-key <file...>', 'private keys of root N+1, which sign too (default: the keys of root N)')
    .option('--threshold <m>', 'threshold of root N+1 (default: that of root N)')
    .action(async (opts: KeyOptions & { rootKey: string[]; newRootKey?: string[]; threshold?: string }, command: Command) => {
      await changeRepository(command, opts, async (repo) => {
        const oldKeys = await Promise.all(opts.rootKey.map(signingKeyFile));
        const newKeys = opts.newRootKey ? await Promise.all(opts.newRootKey.map(signingKeyFile)) : undefined;
        const threshold = opts.threshold === undefined ? undefined : parseNonNegativeInt('--threshold', opts.threshold);
        return rotateRoot(repo, { signingKeys: [...oldKeys, ...(newKeys ?? [])], newRootKeys: newKeys, threshold, now: new Date() });
      });
    });

  withKeys(trust.command('refresh'))
    .description('re-sign snapshot and timestamp with the online key (what keeps devices from reporting frozen)')
    .action(async (opts: KeyOptions, command: Command) => {
      await changeRepository(command, opts, async (repo, signing) => refreshOnline(repo, await signing()));
    });

  trust
    .command('show')
    .description('roles, keys, thresholds, versions and expiry of the repository')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      await withTrust(command, opts, async ({ store }) => ({ repo: (await readRepository(store)).repo }));
    });
}

interface TrustContext {
  store: ArtifactStore;
  paths: TrustKeyPaths;
  config: ReturnType<typeof configFrom>;
  /** The targets and online keys (created on first use at their default paths). */
  signing: () => Promise<OnlineSigning>;
}

async function withTrust(command: Command, opts: KeyOptions, run: (ctx: TrustContext) => Promise<{ repo: TufRepository; keyFiles?: object }>): Promise<void> {
  const config = configFrom(command);
  const store = openArtifactStore(config.store);
  const paths = trustKeyPaths(config.trust, config.signing.keyPath);
  const signing = async (): Promise<OnlineSigning> => ({
    targetsKeys: [await signingKeyFile(opts.targetsKey ?? paths.targets)],
    onlineKey: await signingKeyFile(opts.onlineKey ?? paths.online),
    now: new Date(),
  });
  try {
    const { repo, keyFiles } = await run({ store, paths, config, signing });
    const described = { store: store.location, ...describeRepository(repo), ...(keyFiles && { keyFiles }) };
    printResult(opts, described, () => renderRepository(described));
  } finally {
    await store.close();
  }
}

async function changeRepository(command: Command, opts: KeyOptions, change: (repo: TufRepository, signing: () => Promise<OnlineSigning>) => Promise<TufRepository>): Promise<void> {
  await withTrust(command, opts, async ({ store, signing }) => {
    const before: StoredRepository = await readRepository(store);
    const repo = await change(before.repo, signing);
    await writeRepository(store, repo, before);
    return { repo };
  });
}

function targetsRoleOnly(role: string): void {
  if (role !== 'targets') throw new TufInvalidChangeError(`--role ${role}: only the targets role lists release signers (root keys change with rotate-root)`);
}
