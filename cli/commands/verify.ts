// `ota verify`: offline verification of a published release against a pinned trust root, through
// the fleet's TUF repository first when there is one (verification/tuf-release.ts).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { readChannelIndexes } from '../../release/catalog.js';
import { channelSchema, hardwareIdSchema, semverSchema } from '../../schemas/manifest.js';
import { readTrustRoot } from '../../signing/trust-root.js';
import { openArtifactStore, type ArtifactStore } from '../../stores/index.js';
import type { InstalledState } from '../../verification/manifest-checks.js';
import { policyFor } from '../../verification/verify-manifest.js';
import { storeReader } from '../../verification/store-reader.js';
import { verifyRelease, type VerifyReleaseReport } from '../../verification/verify-release.js';
import { verifyThroughTuf, type TufVerifiedRelease } from '../../verification/tuf-release.js';
import { TrustError } from '../../trust/errors.js';
import { localTrustDir } from '../../trust/local-trust.js';
import { configFrom } from '../context.js';
import { parseNonNegativeInt } from '../options.js';
import { printResult } from '../output.js';

interface VerifyOptions {
  manifest: string;
  bundle?: string;
  trustRoot?: string;
  image?: string;
  certificateIdentity?: string;
  certificateOidcIssuer?: string;
  hardware?: string;
  anyHardware?: boolean;
  channel?: string;
  anyChannel?: boolean;
  installedVersion?: string;
  installedSecurityVersion?: string;
  allowDowngrade?: boolean;
  json?: boolean;
}

export function registerVerifyCommand(program: Command): void {
  program
    .command('verify')
    .description('verify a release offline: manifest signature, expiry, and every artifact by digest and signature')
    .requiredOption('--manifest <file|store:KEY>', 'the manifest: a file, or store:releases/<hw>/<version>/manifest.json')
    .option('--bundle <file>', 'its Sigstore bundle (default: the manifest location + .sigstore.json)')
    .option('--trust-root <file>', 'pinned Sigstore trusted_root.json (default: trust.trustedRootPath)')
    .option('--image <file>', 'a local copy of the raw image to check instead of the stored one')
    .option('--certificate-identity <san>', 'keyless: the exact signer identity expected')
    .option('--certificate-oidc-issuer <url>', 'keyless: the exact OIDC issuer expected')
    .option('--hardware <id>', 'refuse unless the manifest is for this hardware id (default with store: keys: the key\'s hardware)')
    .option('--any-hardware', 'skip the hardware check')
    .option('--channel <name>', 'refuse unless the manifest is on this channel (default with store: keys: the channel index listing it)')
    .option('--any-channel', 'skip the channel check')
    .option('--installed-version <semver>', 'refuse versions older than this')
    .option('--installed-security-version <n>', 'refuse security versions below this (default with store: keys: the highest on the channel)')
    .option('--allow-downgrade', 'skip the anti-rollback check (security version floor)')
    .option('--json', 'print the report as JSON')
    .action(async (opts: VerifyOptions, command: Command) => {
      const config = configFrom(command);
      const store = openArtifactStore(config.store);
      try {
        const fromStore = opts.manifest.startsWith('store:');
        const manifestKey = opts.manifest.slice('store:'.length);
        const readSource = (path: string) => (fromStore && !opts.bundle ? store.getBytes(path) : readFile(path));
        const manifestBytes = fromStore ? await store.getBytes(manifestKey) : await readFile(opts.manifest);
        const bundlePath = opts.bundle ?? `${fromStore ? manifestKey : opts.manifest}.sigstore.json`;
        if (!fromStore && !opts.bundle && !existsSync(bundlePath)) throw new Error(`no bundle at ${bundlePath}; pass --bundle`);
        const bundle = (opts.bundle ? await readFile(opts.bundle) : await readSource(bundlePath)).toString('utf8');
        const trustRoot = await readTrustRoot(opts.trustRoot ?? config.trust.trustedRootPath);
        // One of the two alone used to fall back to the pinned-key policy without a word.
        if (!opts.certificateIdentity !== !opts.certificateOidcIssuer) {
          throw new Error('keyless verification needs both --certificate-identity and --certificate-oidc-issuer');
        }
        const keyless =
          opts.certificateIdentity && opts.certificateOidcIssuer
            ? { certificateIdentity: opts.certificateIdentity, certificateIssuer: opts.certificateOidcIssuer }
            : undefined;
        const installed = await installedState(opts, fromStore ? { store, key: manifestKey } : undefined);
        // The TUF chain first, when there is one: it decides which signer's key the manifest needs.
        let tuf: TufVerifiedRelease | undefined;
        try {
          const localTrust = localTrustDir(opts.trustRoot ?? config.trust.trustedRootPath);
          tuf = await verifyThroughTuf({ store, localTrustDir: localTrust, trustRoot, manifestBytes, manifestPath: fromStore ? manifestKey : undefined });
        } catch (err) {
          if (!(err instanceof TrustError)) throw err;
          return printReport(opts, { ok: false, checks: [{ artifact: 'tuf', ok: false, detail: err.message }] });
        }
        const report = await verifyRelease({
          manifestBytes,
          bundle,
          trustRoot: tuf?.trustRoot ?? trustRoot,
          policy: tuf?.policy ?? policyFor(trustRoot, keyless),
          reader: storeReader(store),
          imagePath: opts.image,
          installed,
        });
        if (tuf) report.checks.unshift({ artifact: 'tuf', ok: true, detail: tuf.detail });
        printReport(opts, report);
      } finally {
        await store.close();
      }
    });
}

function printReport(opts: VerifyOptions, report: VerifyReleaseReport): void {
  printResult(opts, report, () =>
    [
      ...report.checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.artifact.padEnd(22)} ${c.detail}`),
      report.ok ? `verified ${report.manifest!.hardwareId} ${report.manifest!.version}` : 'release REJECTED',
    ].join('\n'),
  );
  if (!report.ok) process.exitCode = 1;
}

interface StoreSource {
  store: ArtifactStore;
  key: string;
}

/**
 * The device state to check against. Hardware, channel and anti-rollback are checked by default;
 * each is skipped only with its explicit flag (--any-hardware, --any-channel, --allow-downgrade).
 * With a store: key the defaults come from the store: the hardware of the key
 * (releases/<hw>/<version>/manifest.json), the channel whose index lists that version,
 * and that channel's highest security version. The index is not signed: these defaults are a
 * consistency check (a manifest listed under the wrong channel is refused), --channel pins it.
 * A manifest file has no such context: each check needs its value or its skip flag.
 * Installed-version flags without the device they describe, and a non-numeric security version
 * (it compared as NaN, never lower), are errors.
 */
async function installedState(opts: VerifyOptions, fromStore?: StoreSource): Promise<InstalledState> {
  if (opts.hardware && opts.anyHardware) throw new Error('--hardware and --any-hardware exclude each other');
  if (opts.channel && opts.anyChannel) throw new Error('--channel and --any-channel exclude each other');
  if (opts.installedSecurityVersion !== undefined && opts.allowDowngrade) throw new Error('--installed-security-version and --allow-downgrade exclude each other');
  if (opts.anyHardware && (opts.installedVersion !== undefined || opts.installedSecurityVersion !== undefined)) {
    throw new Error('--installed-version and --installed-security-version need a hardware id (the device they describe), not --any-hardware');
  }
  if (opts.channel !== undefined && !channelSchema.safeParse(opts.channel).success) throw new Error(`--channel: expected a channel name such as stable, got "${opts.channel}"`);
  let securityVersion: number | undefined;
  if (opts.installedSecurityVersion !== undefined) {
    securityVersion = parseNonNegativeInt('--installed-security-version', opts.installedSecurityVersion);
  }
  if (opts.installedVersion !== undefined && !semverSchema.safeParse(opts.installedVersion).success) {
    throw new Error(`--installed-version: expected a semantic version such as 1.4.0, got "${opts.installedVersion}"`);
  }

  const [, keyHardware, keyVersion] = (fromStore && /^releases\/([^/]+)\/([^/]+)\/manifest\.json$/.exec(fromStore.key)) || [];
  const storeHardware = keyHardware && hardwareIdSchema.safeParse(keyHardware).success ? keyHardware : undefined;
  let hardwareId: string | undefined;
  if (!opts.anyHardware) {
    hardwareId = opts.hardware ?? storeHardware;
    if (!hardwareId) throw new Error('the hardware check is on by default: pass --hardware <id> (or --any-hardware to skip it)');
  }
  // The channel index listing this manifest (and its security floor), when read from the store.
  const listed = fromStore && storeHardware && keyVersion ? await channelsListing(fromStore.store, storeHardware, keyVersion) : [];
  let channel: string | undefined;
  if (!opts.anyChannel) {
    if (opts.channel) channel = opts.channel;
    else if (!fromStore) throw new Error('the channel check is on by default and a manifest file names no index: pass --channel <name> (or --any-channel to skip it)');
    else if (listed.length === 1) channel = listed[0]!.channel;
    else if (listed.length === 0) throw new Error(`no channel index of the store lists ${fromStore.key}: pass --channel <name> (or --any-channel to skip the check)`);
    else throw new Error(`${fromStore.key} is listed on several channels (${listed.map((l) => l.channel).join(', ')}): pass --channel <name>`);
  }
  if (!opts.allowDowngrade && securityVersion === undefined) {
    const index = listed.find((l) => l.channel === channel) ?? (listed.length === 1 ? listed[0] : undefined);
    if (index) securityVersion = index.floor;
    else throw new Error('the anti-rollback check is on by default: pass --installed-security-version <n> (or --allow-downgrade to skip it)');
  }
  return { hardwareId: hardwareId ?? '', ...(hardwareId === undefined && { anyHardware: true }), channel, version: opts.installedVersion, securityVersion };
}

/**
 * The channels whose index lists this version, each with its highest security version. By version,
 * not by the manifest's sha256: a tampered manifest must still reach the signature check (TAMPERED_MANIFEST).
 */
async function channelsListing(store: ArtifactStore, hardwareId: string, version: string): Promise<Array<{ channel: string; floor: number }>> {
  const out: Array<{ channel: string; floor: number }> = [];
  for (const [channel, releases] of await readChannelIndexes(store, hardwareId)) {
    if (releases.some((r) => r.version === version)) out.push({ channel, floor: Math.max(...releases.map((r) => r.securityVersion)) });
  }
  return out;
}
