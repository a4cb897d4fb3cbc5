// `ota release publish|list|show`: CI hands in an image, people inspect what was published.
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createActivities } from '../../activities/index.js';
import { findPublishedManifest, readChannelIndexes } from '../../release/catalog.js';
import { buildReleaseRequest, startRelease, watchRelease, type ProgressEvent } from '../../temporal/release-client.js';
import { manifestKey } from '../../release/layout.js';
import { compareSemver } from '../../release/semver.js';
import { hardwareIdSchema } from '../../schemas/manifest.js';
import { builderSigningModeFromConfig } from '../../signing/from-config.js';
import { loadOrCreateSigningKey } from '../../signing/keys.js';
import { checkPublishSigner } from '../../trust/publish-target.js';
import { provenanceInputsFromEnv } from '../../signing/provenance.js';
import { NotFoundError, openArtifactStore } from '../../stores/index.js';
import { connectClient } from '../../temporal/client.js';
import { hasWorkflowPollers } from '../../temporal/pollers.js';
import { createWorker } from '../../temporal/worker.js';
import { failureMessage } from '../../temporal/failure-message.js';
import { configFrom } from '../context.js';
import { parseNonNegativeInt } from '../options.js';
import { printResult, progress, throttledProgress } from '../output.js';
import { formatBytes, renderSteps } from './release-format.js';

interface PublishOptions {
  image: string;
  version: string;
  hardware: string;
  securityVersion?: string;
  channel: string;
  components: string[];
  vex?: string;
  scan?: string;
  keyless?: boolean;
  key?: string;
  builderKey?: string;
  deltaCount: string;
  deltaMaxRatio: string;
  validityDays: string;
  builderId?: string;
  sourceRepo?: string;
  sourceRevision?: string;
  worker: 'inline' | 'remote';
  json?: boolean;
}

export function registerReleaseCommands(program: Command): void {
  const release = program.command('release').description('publish and inspect signed firmware releases');

  release
    .command('publish')
    .description('store, sign, attest, SBOM, VEX and delta an image, then publish its signed manifest')
    .requiredOption('--image <file>', 'firmware image (raw or tar root filesystem)')
    .requiredOption('--version <semver>', 'release version, e.g. 1.4.0')
    .requiredOption('--hardware <id>', 'hardware id the image is built for')
    .option('--security-version <n>', 'anti-rollback counter (default: highest already published)')
    .option('--channel <name>', 'release channel', 'stable')
    .option('--components <file>', 'component list from the build: CycloneDX, SPDX, buildroot manifest.csv or dpkg status (repeatable)', collect, [])
    .option('--vex <file>', 'VEX statements (YAML or JSON)')
    .option('--scan <file>', 'scanner report (OSV or Grype JSON) to match against the SBOM')
    .option('--keyless', 'sign with Fulcio + Rekor using the OIDC token from the environment')
    .option('--key <file>', 'sign with this ECDSA P-256 key (PEM) instead of the configured one')
    .option('--builder-key <file>', "sign the image and provenance as the builder with this ECDSA P-256 key (PEM); the worker accepts it only if the builder policy lists its public key (default: builder.keyPath, or the job's OIDC identity when builder.mode is keyless)")
    .option('--delta-count <k>', 'make deltas from the last K releases', '3')
    .option('--delta-max-ratio <r>', 'offer a delta only below this fraction of the compressed image', '0.75')
    .option('--validity-days <n>', 'days until devices refuse the manifest (freshness between releases comes from the TUF timestamp, re-signed hourly)', '90')
    .option('--builder-id <uri>', 'SLSA builder id (default: from CI environment, else this host)')
    .option('--source-repo <uri>', 'source repository for provenance')
    .option('--source-revision <sha>', 'source revision for provenance')
    .option('--worker <mode>', 'inline: this process runs the pipeline as a worker too (keyless tokens stay here); remote: leave it to `ota worker` processes', 'inline')
    .option('--json', 'print the result as JSON')
    .action(async (opts: PublishOptions, command: Command) => publish(opts, command));

  release
    .command('list')
    .description('releases of a hardware id, per channel')
    .requiredOption('--hardware <id>', 'hardware id')
    .option('--json', 'print as JSON')
    .action(async (opts: { hardware: string; json?: boolean }, command: Command) => {
      const config = configFrom(command);
      const store = openArtifactStore(config.store);
      const hardware = hardwareIdSchema.parse(opts.hardware);
      const byChannel = await readChannelIndexes(store, hardware);
      const rows = [...byChannel].flatMap(([channel, entries]) => entries.map((e) => ({ channel, ...e }))).sort((a, b) => compareSemver(b.version, a.version));
      printResult(opts, rows, () =>
        rows.length === 0
          ? `no releases for ${hardware}`
          : ['VERSION     CHANNEL   SECURITY  CREATED               MANIFEST', ...rows.map((r) => `${r.version.padEnd(11)} ${r.channel.padEnd(9)} ${String(r.securityVersion).padEnd(9)} ${r.created}  ${r.manifest.location}`)].join('\n'),
      );
      await store.close();
    });

  release
    .command('show <version>')
    .description('the published manifest of one release')
    .requiredOption('--hardware <id>', 'hardware id')
    .option('--json', 'print the manifest as JSON')
    .action(async (version: string, opts: { hardware: string; json?: boolean }, command: Command) => {
      const config = configFrom(command);
      const store = openArtifactStore(config.store);
      const hardware = hardwareIdSchema.parse(opts.hardware);
      const found = await findPublishedManifest(store, hardware, version);
      if (!found) throw new NotFoundError(manifestKey(hardware, version));
      const m = found.manifest;
      printResult(opts, m, () =>
        [
          `${m.hardwareId} ${m.version} (${m.channel}), security version ${m.securityVersion}`,
          `created ${m.created}, expires ${m.expires}`,
          `image     sha256:${m.image.sha256} ${formatBytes(m.image.length)} (${m.image.compression}${m.image.compression !== 'none' ? ` ${formatBytes(m.image.compressedLength)}` : ''})`,
          ...m.deltas.map((d) => `delta     from ${d.fromVersion} ${d.format} ${formatBytes(d.length)} sha256:${d.sha256}`),
          ...m.skippedDeltas.map((d) => `no delta  from ${d.fromVersion}: ${d.reason}`),
          `sbom      sha256:${m.sbom.sha256}`,
          `vex       sha256:${m.vex.sha256} (OpenVEX sha256:${m.openvex.sha256})`,
          `provenance sha256:${m.provenance.sha256}`,
        ].join('\n'),
      );
      await store.close();
    });
}

async function publish(opts: PublishOptions, command: Command): Promise<void> {
  const overrides = opts.key ? ['signing.mode=key', `signing.keyPath=${opts.key}`] : [];
  const config = configFrom(command, overrides);
  const store = openArtifactStore(config.store);
  // With a TUF repository its targets role decides who signs: an unlisted key stops here, before any upload.
  const keyless = opts.keyless || (!opts.key && config.signing.mode === 'keyless');
  // The signer's hardware ids must cover this release (a bad id is refused with its own message later).
  const hardware = hardwareIdSchema.safeParse(opts.hardware);
  const manifestPath = hardware.success ? manifestKey(hardware.data, opts.version) : undefined;
  await checkPublishSigner(store, keyless ? { mode: 'keyless' } : { mode: 'key', publicKey: (await loadOrCreateSigningKey(config.signing.keyPath)).publicKey }, manifestPath);
  const uploadProgress = throttledProgress(opts);
  const provenance = provenanceInputsFromEnv({
    builderId: opts.builderId,
    source: opts.sourceRepo && opts.sourceRevision ? { uri: opts.sourceRepo, revision: opts.sourceRevision } : undefined,
  });
  const request = await buildReleaseRequest(
    store,
    { image: opts.image, components: opts.components, vex: opts.vex, scan: opts.scan },
    {
      hardwareId: opts.hardware,
      version: opts.version,
      channel: opts.channel,
      securityVersion: opts.securityVersion === undefined ? undefined : parseNonNegativeInt('--security-version', opts.securityVersion),
      signing: opts.keyless ? 'keyless' : opts.key ? 'key' : config.signing.mode,
      provenance: {
        ...provenance,
        builderId: provenance.builderId || `https://edge-ota.dev/builders/local/${hostname()}`,
        externalParameters: { ...provenance.externalParameters, hardwareId: opts.hardware, version: opts.version, channel: opts.channel },
        startedOn: provenance.startedOn?.toISOString(),
        finishedOn: provenance.finishedOn?.toISOString(),
      },
      deltaCount: parseNonNegativeInt('--delta-count', opts.deltaCount),
      deltaMaxRatio: Number(opts.deltaMaxRatio),
      validityDays: parseNonNegativeInt('--validity-days', opts.validityDays),
    },
    (file, bytes, total) => uploadProgress(`upload ${file}: ${formatBytes(bytes)} / ${formatBytes(total)}`, bytes === total),
    // The builder signs here, in the build job's process; --builder-key chooses the signer, never the policy.
    await builderSigningModeFromConfig(config.builder, config.signing, { keyFile: opts.builderKey }),
  );
  await store.close();

  const { client, close } = await connectClient(config.temporal);
  try {
    if (opts.worker !== 'inline' && opts.worker !== 'remote') throw new Error(`--worker: expected inline or remote, got "${opts.worker}"`);
    const inline = opts.worker === 'inline';
    if (!inline && !(await hasWorkflowPollers(client, config.temporal.namespace, config.temporal.taskQueue))) {
      progress(opts, `warning: no worker has polled task queue ${config.temporal.taskQueue} recently; start \`ota worker\` or use --worker inline`);
    }
    const handle = await startRelease(client, config.temporal.taskQueue, request);
    progress(opts, `release workflow ${handle.workflowId}${inline ? ' (running a worker in this process)' : ''}`);
    let last = '';
    const watching = watchRelease(handle, (event: ProgressEvent) => {
      const text = renderSteps(event);
      if (text !== last) progress(opts, text);
      last = text;
    });
    let result;
    if (inline) {
      // The CLI reports failures itself; the SDK's own WARN lines would repeat them with stacks.
      Runtime.install({ logger: new DefaultLogger('ERROR') });
      const { worker, connection } = await createWorker(config.temporal, createActivities(config));
      try {
        result = await worker.runUntil(watching);
      } catch (err) {
        throw new Error(failureMessage(err));
      } finally {
        await connection.close();
      }
    } else {
      result = await watching.catch((err) => {
        throw new Error(failureMessage(err));
      });
    }
    printResult(opts, result, () =>
      `${result.outcome === 'created' ? 'published' : 'already published'} ${result.hardwareId} ${result.version} (${result.channel}): ${result.manifestKey} sha256:${result.manifestSha256}, ${result.deltas} delta(s), ${result.skippedDeltas} skipped`,
    );
  } finally {
    await close();
  }
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
