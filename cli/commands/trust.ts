// `ota trust init|add-signer|revoke-signer|delegate-publish|rotate-publish-key|revoke-publish|rotate-root|refresh|show`: the fleet's TUF repository
// (docs/trust.md). Metadata goes to the artifact store (trust/metadata-store.ts), keys stay in files.
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MetadataKind, type Key } from '@tufjs/models';
import type { Command } from 'commander';
import { writeFileAtomic } from '../../platform/atomic-write.js';
import { readFileAtMost } from '../../platform/bounded-read.js';
import { generateSigningKeyPem, loadOrCreateSigningKey, publicKeyPathFor, signingKeyFromPem } from '../../signing/keys.js';
import { openArtifactStore, type ArtifactStore } from '../../stores/index.js';
import { TufAlreadyInitializedError, TufInvalidChangeError, TufOversizedError } from '../../trust/errors.js';
import { publicKeyFile, signingKeyFile, trustKeyPaths, type TrustKeyPaths } from '../../trust/key-files.js';
import { localTrustDir, writeLocalTrust } from '../../trust/local-trust.js';
import { hasRepository, readRepository, writeRepository, type StoredRepository } from '../../trust/metadata-store.js';
import { setDeviceTrust } from '../../trust/device-trust.js';
import { delegatesPublishing } from '../../trust/publish-role.js';
import { revokePublishing, rotatePublishKey } from '../../trust/publish-rotation.js';
import { acceptTargets, addSigner, createRepository, DEFAULT_EXPIRIES, delegatePublishing, refreshOnline, revokeSigner, type OnlineSigning, type TufRepository } from '../../trust/repository.js';
import { keylessSignerKey } from '../../trust/keyless-signers.js';
import { scopeOf } from '../../trust/release-signers.js';
import { acceptRoot, proposeRoot, rotateRoot, type RotateRootInput } from '../../trust/root-rotation.js';
import { expiresAfter, metadataBytes, signedJSON, unsigned } from '../../trust/metadata.js';
import { METADATA_LIMITS, parseMetadata } from '../../trust/parse.js';
import { signMetadata, tufPublicKey, tufSigningKey, type TufSigningKey } from '../../trust/tuf-keys.js';
import { configFrom } from '../context.js';
import { parseNonNegativeInt } from '../options.js';
import { printResult, progress } from '../output.js';
import { describeRepository, renderRepository } from './trust-format.js';
import { keyPathsInUse, rotateRoleKeyFiles } from './trust-rotate-keys.js';

export interface KeyOptions {
  targetsKey?: string;
  onlineKey?: string;
  publishKey?: string;
  /** A targets change written to this file for offline signing instead of published (`ota trust push`). */
  out?: string;
  json?: boolean;
}

export function registerTrustCommands(program: Command): void {
  const trust = program.command('trust').description("the fleet's TUF repository: root keys and threshold, release signers, freshness");
  const withKeys = (command: Command) =>
    command
      .option('--targets-key <file>', 'private key of the targets role (default: trust.keysDir/targets.pem)')
      .option('--online-key <file>', 'private key of the snapshot and timestamp roles (default: trust.keysDir/online.pem)')
      .option('--publish-key <file>', "the worker's release-publish key, which signs the published releases (default: trust.keysDir/release-publish.pem)")
      .option('--json', 'print the result as JSON');
  const offline = (command: Command) => command.option('--out <file>', 'write the new targets version to this file, unsigned (or signed by --targets-key), for `ota trust sign` offline and `ota trust push`');

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
        return { repo, keyFiles: { root: rootFiles, targets: opts.targetsKey ?? paths.targets, online: opts.onlineKey ?? paths.online, publish: opts.publishKey ?? paths.publish } };
      });
    });

  offline(withKeys(trust.command('add-signer')))
    .description('list a release signer in a new targets version')
    .option('--key <file>', "the signer's public (or private) key PEM")
    .option('--keyless', 'a Sigstore identity instead of a key (TAP 18): releases signed through Fulcio by --issuer for a --subject identity')
    .option('--issuer <url>', 'with --keyless: the OIDC issuer, exactly (e.g. https://token.actions.githubusercontent.com)')
    .option('--subject <regex>', 'with --keyless: a regular expression the whole certificate identity must match (e.g. a CI workflow on release tags)')
    .option('--role <role>', 'the role the signer joins (targets)', 'targets')
    .option('--hardware <id...>', 'limit the signer to releases for these hardware ids (a delegated role per hardware id; default: every hardware id)')
    .action(async (opts: KeyOptions & SignerOptions & { role: string; hardware?: string[] }, command: Command) => {
      targetsRoleOnly(opts.role);
      const scope = scopeOf(opts.hardware);
      const signer = await signerFrom(opts, 'add-signer');
      await changeTargets(command, opts, async (repo, signing) => addSigner(repo, signer, await signing(), scope));
    });

  offline(withKeys(trust.command('revoke-signer')))
    .description('remove a release signer in a new targets version; releases it signed are refused (TUF_SIGNER_REVOKED)')
    .option('--key <file>', "the signer's public (or private) key PEM")
    .option('--key-id <id>', 'the TUF key id instead of the key file')
    .option('--keyless', 'a keyless signer, named by --issuer and --subject as it was added')
    .option('--issuer <url>', 'with --keyless: the OIDC issuer')
    .option('--subject <regex>', 'with --keyless: the identity pattern')
    .option('--role <role>', 'the role the signer leaves (targets)', 'targets')
    .action(async (opts: KeyOptions & Partial<SignerOptions> & { keyId?: string; role: string }, command: Command) => {
      targetsRoleOnly(opts.role);
      if ([opts.key, opts.keyId, opts.keyless].filter(Boolean).length !== 1) throw new Error('revoke-signer needs one of --key <file>, --key-id <id> or --keyless --issuer URL --subject REGEX');
      const keyID = opts.keyId ?? (await signerFrom(opts, 'revoke-signer')).keyID;
      await changeTargets(command, opts, async (repo, signing) => revokeSigner(repo, keyID, await signing()));
    });

  offline(withKeys(trust.command('delegate-publish')))
    .description("delegate release manifests to the worker's release-publish key (a new targets version): publishes then never need the targets key")
    .action(async (opts: KeyOptions, command: Command) => {
      const config = configFrom(command);
      // The worker's key: created here on first use (0600) when the default file does not exist yet; copy it to the worker.
      const publishKey = await signingKeyFile(opts.publishKey ?? trustKeyPaths(config.trust, config.signing.keyPath).publish);
      await changeTargets(command, opts, async (repo, signing) => {
        if (delegatesPublishing(repo.targets)) throw new TufInvalidChangeError('targets already delegates release manifests to the release-publish role: replace its key with `ota trust rotate-publish-key`');
        return delegatePublishing(repo, publishKey, await signing());
      });
    });

  offline(withKeys(trust.command('rotate-publish-key')))
    .description(
      "replace the worker's release-publish key (a new targets version delegating the role to the new key only): a role the old key signs is refused (TUF_PUBLISH_KEY_REPLACED); the releases listed so far are re-signed by the new key",
    )
    .action(async (opts: KeyOptions, command: Command) => {
      const config = configFrom(command);
      const paths = trustKeyPaths(config.trust, config.signing.keyPath);
      if (opts.out) {
        // The targets key's machine: the new key's public part is enough; `ota trust push --publish-key NEW.pem` re-signs the role.
        if (!opts.publishKey) throw new Error('rotate-publish-key --out needs --publish-key <file>: the new key (public is enough), made where the worker runs');
        const newKey = await publicKeyFile(opts.publishKey);
        await changeTargets(command, opts, async (repo, signing) => rotatePublishKey(repo, newKey, await signing()));
        return;
      }
      if (opts.publishKey) {
        // A new key file of the operator's choosing (created 0600 when missing); the worker needs it at trust.keysDir/release-publish.pem.
        const newKey = await signingKeyFile(opts.publishKey);
        await changeTargets(command, opts, async (repo, signing) => rotatePublishKey(repo, newKey, { ...(await signing()), publishKey: newKey }));
        progress(opts, `release-publish key rotated to ${newKey.keyID}: put ${opts.publishKey} at trust.keysDir/release-publish.pem where the worker runs`);
        return;
      }
      await rotatePublishKeyFile(command, opts, paths.publish);
    });

  offline(withKeys(trust.command('revoke-publish')))
    .description('stop delegating release manifests to the worker (a new targets version): the worker cannot publish at all (TUF_PUBLISHING_REVOKED); the releases it listed move into targets, signed by the targets key')
    .option('--drop-releases', 'do not move the releases the worker listed into targets: devices then refuse them (not targets)')
    .action(async (opts: KeyOptions & { dropReleases?: boolean }, command: Command) => {
      await changeTargets(command, opts, async (repo, signing) => revokePublishing(repo, await signing(), { dropReleases: opts.dropReleases === true }));
    });

  offline(withKeys(trust.command('device-trust')))
    .description('sign the gateway answer keys and fleet CA roots devices trust into targets (edge-ota.device-trust.v1): devices take a rotation through TUF')
    .requiredOption('--answer-key <file...>', 'gateway answer public keys (PEM); two while a rotation overlaps')
    .option('--fleet-ca <file...>', 'fleet CA root certificates (PEM)')
    .action(async (opts: KeyOptions & { answerKey: string[]; fleetCa?: string[] }, command: Command) => {
      const read = (f: string) => readFileAtMost(f, 16 * 1024, f).then((b) => b.toString('utf8'));
      const doc = { answerKeys: await Promise.all(opts.answerKey.map(read)), fleetCaRoots: await Promise.all((opts.fleetCa ?? []).map(read)) };
      await changeTargets(command, opts, async (repo, signing) => setDeviceTrust(repo, doc, await signing()));
    });

  withKeys(trust.command('push <file>'))
    .description('publish a targets version signed offline (`--out`, then `ota trust sign`); snapshot and timestamp follow, signed by the online key')
    .option('--root <file>', 'root N+1 to publish first (rotate-root --rotate-targets-key/--rotate-online-key --out), signed to both thresholds')
    .action(async (file: string, opts: KeyOptions & { root?: string }, command: Command) => {
      const targets = parseMetadata('targets', await readFileAtMost(file, METADATA_LIMITS.targets, file), file);
      const root = opts.root ? parseMetadata('root', await readFileAtMost(opts.root, METADATA_LIMITS.root, opts.root), opts.root) : undefined;
      await changeRepository(command, opts, async (repo, signing) => {
        const { targetsKeys: _none, ...online } = await signing({ targetsKey: false });
        // Root N+1 first (both thresholds), so the targets below are judged by the keys it names.
        return acceptTargets(root ? acceptRoot(repo, root) : repo, targets, online);
      });
    });

  withKeys(trust.command('rotate-root'))
    .description('write root N+1, signed by the threshold of root N and of N+1 (root keys at hand, or a file signed offline with `ota trust sign`)')
    .option('--root-key <file...>', 'private root keys that sign (existing files): enough of root N and of the new root')
    .option('--new-root-key <file...>', 'keys of root N+1: private ones sign too; with --out, public keys are enough (default: the keys of root N)')
    .option('--threshold <m>', 'threshold of root N+1 (default: that of root N)')
    .option('--out <file>', 'write root N+1 to this file (signed by any --root-key given) instead of publishing it')
    .option('--from <file>', 'publish this root N+1, signed offline, once it meets both thresholds')
    .option('--rotate-targets-key', 'root N+1 names a new targets key (created now, replacing the key file in use; the old one is kept as <file>.retired-root-N, N the last root that named it)')
    .option('--rotate-online-key', 'root N+1 names a new snapshot and timestamp key (likewise)')
    .option('--new-targets-key <file>', 'with --rotate-targets-key --out: the new targets key (public is enough), made on the offline machine')
    .option('--new-online-key <file>', 'with --rotate-online-key --out: the new online key (public is enough)')
    .action(async (opts: RotateRootOptions, command: Command) => {
      if (opts.from && (opts.rootKey || opts.newRootKey || opts.threshold || opts.out || opts.rotateTargetsKey || opts.rotateOnlineKey)) throw new Error('--from publishes a root file as it is: no other rotate-root option applies');
      if (!opts.from && !opts.rootKey && !opts.out) throw new Error('rotate-root needs --root-key <file...>, --out <file> or --from <file>');
      if ((opts.newTargetsKey && !opts.rotateTargetsKey) || (opts.newOnlineKey && !opts.rotateOnlineKey)) throw new Error('--new-targets-key goes with --rotate-targets-key, --new-online-key with --rotate-online-key');
      if ((opts.rotateTargetsKey || opts.rotateOnlineKey) && opts.out) {
        await rotateRoleKeysOffline(command, opts);
        return;
      }
      if (opts.rotateTargetsKey || opts.rotateOnlineKey) {
        await withTrust(command, opts, async ({ store, paths, signing }) => {
          const rootInput = await rootRotationInput(opts);
          const rotated = await rotateRoleKeyFiles(store, await signing(), rootInput, { targets: opts.rotateTargetsKey === true, online: opts.rotateOnlineKey === true, ...keyPathsInUse(opts, paths) });
          for (const [path, retired] of Object.entries(rotated.keyFiles)) progress(opts, `${path}: new key in place (the old one is ${retired}; destroy it once no machine signs with it)`);
          return rotated;
        });
        return;
      }
      await changeRepository(command, opts, async (repo) => {
        if (opts.from) return acceptRoot(repo, parseMetadata('root', await readFileAtMost(opts.from, METADATA_LIMITS.root, opts.from), opts.from));
        const input = await rootRotationInput(opts);
        if (!opts.out) return rotateRoot(repo, input);
        await writeFileAtomic(opts.out, metadataBytes(signMetadata(proposeRoot(repo, input), input.signingKeys)));
        progress(opts, `root ${repo.roots.length + 1} written to ${opts.out}: sign it with \`ota trust sign ${opts.out} --key F\`, then \`ota trust rotate-root --from ${opts.out}\``);
        return repo;
      });
    });

  trust
    .command('sign <file>')
    .description('add signatures to a metadata file (root N+1 from rotate-root --out, targets from add-signer/revoke-signer/require-signatures --out), offline: reads no store')
    .requiredOption('--key <file...>', 'private keys that sign')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, opts: { key: string[]; json?: boolean }) => {
      const bytes = await readFileAtMost(file, METADATA_LIMITS.targets, file);
      const keys = await Promise.all(opts.key.map(existingSigningKey));
      if (metadataType(bytes) === 'targets') {
        const targets = parseMetadata('targets', bytes, file);
        await writeFileAtomic(file, metadataBytes(signMetadata(targets, keys)));
        const result = { file, role: 'targets', version: targets.signed.version, signatures: Object.keys(targets.signatures) };
        printResult(opts, result, () => `targets ${result.version} in ${file}: ${result.signatures.length} signature(s): publish it with \`ota trust push ${file}\``);
        return;
      }
      if (bytes.length > METADATA_LIMITS.root) throw new TufOversizedError(`${file} is over the root limit of ${METADATA_LIMITS.root} bytes`);
      const root = parseMetadata('root', bytes, file);
      await writeFileAtomic(file, metadataBytes(signMetadata(root, keys)));
      const result = { file, version: root.signed.version, signatures: Object.keys(root.signatures), threshold: root.signed.roles.root!.threshold };
      printResult(opts, result, () => `root ${result.version} in ${file}: ${result.signatures.length} signature(s) (its own threshold is ${result.threshold}; root N's applies too)`);
    });

  withKeys(trust.command('refresh'))
    .description('re-sign snapshot and timestamp with the online key (what keeps devices from reporting frozen)')
    .action(async (opts: KeyOptions, command: Command) => {
      await changeRepository(command, opts, async (repo, signing) => refreshOnline(repo, await signing({ targetsKey: false })));
    });

  trust
    .command('show')
    .description('roles, keys, thresholds, versions and expiry of the repository')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      await withTrust(command, opts, async ({ store }) => ({ repo: (await readRepository(store)).repo }));
    });
}

interface SignerOptions {
  key?: string;
  keyless?: boolean;
  issuer?: string;
  subject?: string;
}

/** A key file's TUF key, or a keyless signer's entry from --issuer and --subject. */
async function signerFrom(opts: SignerOptions, command: string): Promise<{ keyID: string; key: Key }> {
  if (opts.keyless) {
    if (opts.key) throw new Error(`${command}: --keyless names an identity, not a --key`);
    if (!opts.issuer || !opts.subject) throw new Error(`${command} --keyless needs --issuer <url> and --subject <regex>`);
    return keylessSignerKey(opts.issuer, opts.subject);
  }
  if (opts.issuer || opts.subject) throw new Error(`${command}: --issuer and --subject go with --keyless`);
  if (!opts.key) throw new Error(`${command} needs --key <file> or --keyless --issuer URL --subject REGEX`);
  return publicKeyFile(opts.key);
}

/**
 * Role keys rotated with the root keys offline: root N+1 naming the new targets and/or online keys goes to
 * --out (signed by any --root-key given), and the next targets version, unsigned, to <out>.targets.json;
 * each is signed offline (`ota trust sign`: root keys for the root, the new targets key for targets) and
 * both are published with `ota trust push <out>.targets.json --root <out>` (with --online-key the new online key).
 */
async function rotateRoleKeysOffline(command: Command, opts: RotateRootOptions): Promise<void> {
  if (opts.rotateTargetsKey && !opts.newTargetsKey) throw new Error('--rotate-targets-key --out needs --new-targets-key <file> (made on the offline machine)');
  if (opts.rotateOnlineKey && !opts.newOnlineKey) throw new Error('--rotate-online-key --out needs --new-online-key <file>');
  const out = opts.out!;
  const targetsOut = `${out.replace(/\.json$/, '')}.targets.json`;
  await withTrust(command, opts, async ({ store }) => {
    const { repo } = await readRepository(store);
    const input = await rootRotationInput(opts);
    const roleKeys = {
      ...(opts.newTargetsKey && { targets: [await publicKeyFile(opts.newTargetsKey)] }),
      ...(opts.newOnlineKey && { online: await publicKeyFile(opts.newOnlineKey) }),
    };
    const root = signMetadata(proposeRoot(repo, { ...input, roleKeys }), input.signingKeys);
    const targetsJSON = signedJSON(repo.targets);
    const nextVersion = Math.max(repo.targets.signed.version, repo.taken?.targets ?? 0) + 1;
    const targets = unsigned(MetadataKind.Targets, { ...targetsJSON, version: nextVersion, expires: expiresAfter(new Date(), DEFAULT_EXPIRIES.targets) });
    await writeFileAtomic(out, metadataBytes(root));
    await writeFileAtomic(targetsOut, metadataBytes(targets));
    progress(
      opts,
      `root ${root.signed.version} written to ${out}, targets ${nextVersion} to ${targetsOut}: sign the root with \`ota trust sign ${out} --key F\` (root keys), the targets with the new targets key, then \`ota trust push ${targetsOut} --root ${out}\``,
    );
    return { repo };
  });
}

interface RotateRootOptions extends KeyOptions {
  newTargetsKey?: string;
  newOnlineKey?: string;
  rootKey?: string[];
  newRootKey?: string[];
  threshold?: string;
  out?: string;
  from?: string;
  rotateTargetsKey?: boolean;
  rotateOnlineKey?: boolean;
}

/** Root N+1's keys and threshold from the options, with the keys that sign it (root N's and new private ones). */
async function rootRotationInput(opts: RotateRootOptions): Promise<RotateRootInput> {
  // Root N's keys must exist: a mistyped path must not become a new key. New root keys may be created.
  const signing = await Promise.all((opts.rootKey ?? []).map(existingSigningKey));
  const newKeys = opts.newRootKey ? await Promise.all(opts.newRootKey.map(opts.out ? publicKeyFile : signingKeyFile)) : undefined;
  const threshold = opts.threshold === undefined ? undefined : parseNonNegativeInt('--threshold', opts.threshold);
  // With --out only the given root keys sign now; the new keys sign on their holders' machines.
  const signingKeys = opts.out ? signing : [...signing, ...((newKeys ?? []) as TufSigningKey[])];
  return { newRootKeys: newKeys, threshold, now: new Date(), signingKeys };
}

/** Which keys a change loads; the targets key only where the change signs targets. */
type KeyNeeds = { targetsKey?: boolean };
type Signing = (needs?: KeyNeeds) => Promise<OnlineSigning>;

interface TrustContext {
  store: ArtifactStore;
  paths: TrustKeyPaths;
  config: ReturnType<typeof configFrom>;
  /** The targets, online and release-publish keys (created on first use at their default paths). */
  signing: Signing;
}

async function withTrust(command: Command, opts: KeyOptions, run: (ctx: TrustContext) => Promise<{ repo: TufRepository; keyFiles?: object }>): Promise<void> {
  const config = configFrom(command);
  const store = openArtifactStore(config.store);
  const paths = trustKeyPaths(config.trust, config.signing.keyPath);
  const signing: Signing = async (needs = {}) => ({
    targetsKeys: needs.targetsKey === false ? [] : [await signingKeyFile(opts.targetsKey ?? paths.targets)],
    onlineKey: await signingKeyFile(opts.onlineKey ?? paths.online),
    publishKey: await signingKeyFile(opts.publishKey ?? paths.publish),
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

/**
 * A change of top-level targets (signers, thresholds, the publish delegation). With --out it is written
 * to that file instead, unsigned or signed by an explicit --targets-key (no key is created and nothing
 * in the store changes): the targets key stays offline, `ota trust sign` and `ota trust push` follow.
 */
export async function changeTargets(command: Command, opts: KeyOptions, change: (repo: TufRepository, signing: () => Promise<OnlineSigning>) => Promise<TufRepository>): Promise<void> {
  if (!opts.out) return changeRepository(command, opts, change);
  const out = opts.out;
  await withTrust(command, opts, async ({ store }) => {
    const before = await readRepository(store);
    // The snapshot and timestamp of this change are discarded (push signs its own): a throwaway key signs them.
    const signing = async (): Promise<OnlineSigning> => ({ targetsKeys: opts.targetsKey ? [await existingSigningKey(opts.targetsKey)] : [], onlineKey: throwawayKey(), now: new Date() });
    const after = await change(before.repo, signing);
    if (after.targets.signed.version === before.repo.targets.signed.version) throw new TufInvalidChangeError('this change leaves targets as it is: nothing to sign offline');
    await writeFileAtomic(out, metadataBytes(after.targets));
    progress(opts, `targets ${after.targets.signed.version} written to ${out}: sign it with \`ota trust sign ${out} --key <targets key>\`, then \`ota trust push ${out}\``);
    return { repo: before.repo };
  });
}

/**
 * rotate-publish-key with the default key file: a new key is written beside the one in use
 * (`<file>.next`) and moved into place only once the repository is written, the old one kept as
 * `<file>.retired-targets-N` (N the targets version that replaced it): a failure loses no key.
 */
async function rotatePublishKeyFile(command: Command, opts: KeyOptions, path: string): Promise<void> {
  const pem = generateSigningKeyPem();
  const newKey = tufSigningKey(signingKeyFromPem(pem).privateKey);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(`${path}.next`, pem, { mode: 0o600, flag: 'wx' });
  try {
    await withTrust(command, opts, async ({ store, signing }) => {
      const before = await readRepository(store);
      const repo = rotatePublishKey(before.repo, newKey, { ...(await signing()), publishKey: newKey });
      await writeRepository(store, repo, before);
      const retired = `${path}.retired-targets-${repo.targets.signed.version}`;
      await rename(path, retired).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      await rename(`${path}.next`, path);
      await writeFile(publicKeyPathFor(path), signingKeyFromPem(pem).publicKeyPem, { mode: 0o644 });
      progress(opts, `${path}: new release-publish key ${newKey.keyID} in place (the old one is ${retired}; copy the new key to the worker, destroy the old one)`);
      return { repo };
    });
  } finally {
    await rm(`${path}.next`, { force: true });
  }
}

function throwawayKey(): TufSigningKey {
  return tufSigningKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
}

/** The `_type` of a metadata file's signed part, to tell root from targets (parsing then checks it fully). */
function metadataType(bytes: Buffer): string | undefined {
  try {
    return (JSON.parse(bytes.toString('utf8')) as { signed?: { _type?: unknown } }).signed?._type as string | undefined;
  } catch {
    return undefined;
  }
}

export async function changeRepository(command: Command, opts: KeyOptions, change: (repo: TufRepository, signing: Signing) => Promise<TufRepository>): Promise<void> {
  await withTrust(command, opts, async ({ store, signing }) => {
    const before: StoredRepository = await readRepository(store);
    const repo = await change(before.repo, signing);
    // The same repository back (rotate-root --out): nothing to write.
    if (repo !== before.repo) await writeRepository(store, repo, before);
    return { repo };
  });
}

/** An existing private key (signing with root keys never creates one: a typo must not sign with a new key). */
export async function existingSigningKey(path: string): Promise<TufSigningKey> {
  return tufSigningKey(signingKeyFromPem(await readFile(path, 'utf8')).privateKey);
}

function targetsRoleOnly(role: string): void {
  if (role !== 'targets') throw new TufInvalidChangeError(`--role ${role}: only the targets role lists release signers (root keys change with rotate-root)`);
}
