// `ota verify`: offline verification of a published release against a pinned trust root.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { semverSchema } from '../../schemas/manifest.js';
import { readTrustRoot } from '../../signing/trust-root.js';
import { openArtifactStore } from '../../stores/index.js';
import type { InstalledState } from '../../verification/manifest-checks.js';
import { policyFor } from '../../verification/verify-manifest.js';
import { storeReader } from '../../verification/store-reader.js';
import { verifyRelease } from '../../verification/verify-release.js';
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
  installedVersion?: string;
  installedSecurityVersion?: string;
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
    .option('--hardware <id>', 'refuse unless the manifest is for this hardware id')
    .option('--installed-version <semver>', 'refuse versions older than this')
    .option('--installed-security-version <n>', 'refuse security versions below this')
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
        const installed = installedState(opts);
        const report = await verifyRelease({
          manifestBytes,
          bundle,
          trustRoot,
          policy: policyFor(trustRoot, keyless),
          reader: storeReader(store),
          imagePath: opts.image,
          installed,
        });
        printResult(opts, report, () =>
          [
            ...report.checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.artifact.padEnd(22)} ${c.detail}`),
            report.ok ? `verified ${report.manifest!.hardwareId} ${report.manifest!.version}` : 'release REJECTED',
          ].join('\n'),
        );
        if (!report.ok) process.exitCode = 1;
      } finally {
        await store.close();
      }
    });
}

/**
 * The device state to check against. Installed-version flags without --hardware used to be
 * dropped silently (an anti-rollback check that never ran), and a non-numeric security version
 * compared as NaN (never lower); both are errors now.
 */
function installedState(opts: VerifyOptions): InstalledState | undefined {
  if (!opts.hardware) {
    if (opts.installedVersion !== undefined || opts.installedSecurityVersion !== undefined) {
      throw new Error('--installed-version and --installed-security-version need --hardware (the device they describe)');
    }
    return undefined;
  }
  let securityVersion: number | undefined;
  if (opts.installedSecurityVersion !== undefined) {
    securityVersion = parseNonNegativeInt('--installed-security-version', opts.installedSecurityVersion);
  }
  if (opts.installedVersion !== undefined && !semverSchema.safeParse(opts.installedVersion).success) {
    throw new Error(`--installed-version: expected a semantic version such as 1.4.0, got "${opts.installedVersion}"`);
  }
  return { hardwareId: opts.hardware, version: opts.installedVersion, securityVersion };
}
