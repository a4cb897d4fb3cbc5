// Two-person releases (docs/trust.md): `ota trust require-signatures --channel C --threshold N` signs the
// channel's threshold into targets; `ota release approve V --hardware H --key F` adds a second release
// signer's signature over the manifest to its target. Until a release has enough, the gateway does not
// offer it and devices refuse it (TUF_THRESHOLD_NOT_MET).
import { sign } from 'node:crypto';
import type { Command } from 'commander';
import { manifestKey } from '../../release/layout.js';
import { openArtifactStore } from '../../stores/index.js';
import { hardwareIdSchema } from '../../schemas/manifest.js';
import { serializeBundle } from '../../signing/bundle-json.js';
import { identityTokenFromEnv, withResolvedToken } from '../../signing/keyless.js';
import { signBlob } from '../../signing/message-signature.js';
import { readTrustRoot } from '../../signing/trust-root.js';
import { addKeylessApproval, approveRelease, requireSignatures } from '../../trust/release-approvals.js';
import { configFrom } from '../context.js';
import { callOperatorApi, fetchOperatorBytes, withServerOption, type ServerOption } from '../operator-client.js';
import { parseNonNegativeInt } from '../options.js';
import { printResult } from '../output.js';
import { delegatesPublishing } from '../../trust/publish-role.js';
import { changeRepository, changeTargets, existingSigningKey, type KeyOptions } from './trust.js';

const keyOptions = (command: Command) =>
  command
    .option('--targets-key <file>', 'private key of the targets role (default: trust.keysDir/targets.pem)')
    .option('--online-key <file>', 'private key of the snapshot and timestamp roles (default: trust.keysDir/online.pem)')
    .option('--publish-key <file>', "the worker's release-publish key (default: trust.keysDir/release-publish.pem)")
    .option('--json', 'print the result as JSON');

export function registerApprovalCommands(program: Command): void {
  const group = (name: string) => program.commands.find((c) => c.name() === name)!;

  keyOptions(group('trust').command('require-signatures'))
    .description('releases on a channel need this many release signers (two-person releases: `ota release approve`)')
    .option('--out <file>', 'write the new targets version to this file for offline signing (`ota trust sign`, `ota trust push`)')
    .requiredOption('--channel <channel>', 'the channel')
    .requiredOption('--threshold <n>', 'release signatures needed')
    .action(async (opts: KeyOptions & { channel: string; threshold: string }, command: Command) => {
      await changeTargets(command, opts, async (repo, signing) => requireSignatures(repo, opts.channel, parseNonNegativeInt('--threshold', opts.threshold), await signing()));
    });

  withServerOption(keyOptions(group('release').command('approve <version>')))
    .description("add a second release signer's signature to a published release (its channel may require it); with --server the signature is made here and sent to the operator API")
    .requiredOption('--hardware <id>', 'hardware id of the release')
    .option('--key <file>', "the approving release signer's private key (PEM)")
    .option('--keyless', "approve as a keyless release signer: a Sigstore bundle over the manifest (Fulcio certificate for the OIDC token in signing.identityTokenEnv)")
    .option('--reason <text>', 'why (the audit log keeps it; with --server)')
    .action(async (version: string, opts: KeyOptions & ServerOption & { hardware: string; key?: string; keyless?: boolean; reason?: string }, command: Command) => {
      if (!opts.key === !opts.keyless) throw new Error('release approve needs --key <file> or --keyless');
      if (opts.keyless) return approveKeyless(command, version, opts);
      if (opts.server) return approveThroughApi(opts.server, version, { ...opts, key: opts.key! });
      const store = openArtifactStore(configFrom(command).store);
      const path = manifestKey(opts.hardware, version);
      let bytes: Buffer;
      try {
        bytes = await store.getBytes(path);
      } finally {
        await store.close();
      }
      const approver = await existingSigningKey(opts.key!);
      // An approval changes the release's entry: in the publish role (no targets key needed) when targets delegates it.
      await changeRepository(command, opts, async (repo, signing) => approveRelease(repo, path, bytes, approver, await signing({ targetsKey: !delegatesPublishing(repo.targets) })));
    });
}

/**
 * A keyless approval: the manifest bytes signed through Fulcio and Rekor (and the TSA) with this
 * machine's OIDC token, then verified against the local Sigstore root and matched to a keyless signer
 * before the targets key adds it (trust/release-approvals.ts addKeylessApproval).
 */
async function approveKeyless(command: Command, version: string, opts: KeyOptions & ServerOption & { hardware: string }): Promise<void> {
  if (opts.server) throw new Error('release approve --keyless signs here and writes targets here: --server takes --key approvals only');
  const config = configFrom(command);
  const path = manifestKey(hardwareIdSchema.parse(opts.hardware), version);
  const store = openArtifactStore(config.store);
  let bytes: Buffer;
  try {
    bytes = await store.getBytes(path);
  } finally {
    await store.close();
  }
  const keyless = await withResolvedToken({
    fulcioURL: config.signing.fulcioURL,
    rekorURL: config.signing.rekorURL,
    tsaURL: config.signing.tsaURL,
    identityProvider: identityTokenFromEnv(config.signing.identityTokenEnv),
  });
  const bundle = serializeBundle(await signBlob({ bytes }, { mode: 'keyless', ...keyless }));
  const sigstoreRoot = await readTrustRoot(config.trust.trustedRootPath);
  await changeRepository(command, opts, async (repo, signing) => addKeylessApproval(repo, path, bytes, bundle, sigstoreRoot, await signing({ targetsKey: !delegatesPublishing(repo.targets) })));
}

/** The approver's key never leaves this machine: the manifest bytes come from the API, the signature goes back. */
async function approveThroughApi(server: string, version: string, opts: { hardware: string; key: string; reason?: string; json?: boolean }): Promise<void> {
  const approver = await existingSigningKey(opts.key);
  const path = `/v1/releases/${encodeURIComponent(opts.hardware)}/${encodeURIComponent(version)}`;
  const manifest = await fetchOperatorBytes(server, `${path}/manifest`);
  const signature = sign('sha256', manifest, approver.privateKey).toString('hex');
  const result = await callOperatorApi<{ targetsVersion: number }>(server, 'POST', `${path}/approve`, { keyID: approver.keyID, signature, reason: opts.reason });
  printResult(opts, result, () => `approved ${opts.hardware} ${version} as ${approver.keyID.slice(0, 16)} (targets version ${result.targetsVersion})`);
}
