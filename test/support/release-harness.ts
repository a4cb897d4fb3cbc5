// A release pipeline under test: a real worker (in this process) on a real Temporal dev server,
// a real artifact store (local directory or S3 on versitygw), its own state dir (signing key,
// trust root, work folder). Publishing goes through the same client helpers the CLI uses.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from '@temporalio/worker';
import type { NativeConnection } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { createActivities } from '../../activities/index.js';
import { buildSampleImage } from '../../demo/sample-image.js';
import { loadConfig } from '../../config/load-config.js';
import { manifestBundleKey, manifestKey, releaseIndexKey } from '../../release/layout.js';
import { buildReleaseRequest, startRelease, type ReleaseOptions } from '../../temporal/release-client.js';
import type { PublishedRelease, ReleaseRequest } from '../../release/types.js';
import type { Config } from '../../schemas/config.js';
import { parseReleaseIndex, type ReleaseIndex } from '../../schemas/manifest.js';
import { readTrustRoot, type LocalTrustRootJSON } from '../../signing/trust-root.js';
import { builderSigningModeFromConfig } from '../../signing/from-config.js';
import type { SigningMode } from '../../signing/signing-mode.js';
import { openArtifactStore, type ArtifactStore } from '../../stores/index.js';
import { connectClient } from '../../temporal/client.js';
import { createWorker } from '../../temporal/worker.js';
import { failureMessage } from '../../temporal/failure-message.js';
import type { InstalledState } from '../../verification/manifest-checks.js';
import { storeReader } from '../../verification/store-reader.js';
import { policyFor } from '../../verification/verify-manifest.js';
import { verifyRelease, type VerifyReleaseReport } from '../../verification/verify-release.js';

export const HARDWARE = 'edge-gw-x1';

export interface PublishInput {
  image: string;
  version: string;
  securityVersion?: number;
  channel?: string;
  vex?: string;
  components?: string[];
  timeouts?: ReleaseOptions['timeouts'];
}

export interface VerifyOverrides {
  manifestBytes?: Uint8Array;
  bundle?: string;
  trustRoot?: LocalTrustRootJSON;
  now?: Date;
  installed?: InstalledState;
  imagePath?: string;
}

export function releaseOptions(input: PublishInput): ReleaseOptions {
  return {
    hardwareId: HARDWARE,
    version: input.version,
    channel: input.channel ?? 'stable',
    securityVersion: input.securityVersion,
    signing: 'key',
    provenance: {
      buildType: 'https://edge-ota.dev/slsa/buildtypes/firmware-release/v1',
      builderId: 'https://edge-ota.dev/builders/test',
      externalParameters: { hardwareId: HARDWARE, version: input.version },
      source: { uri: 'git+https://example.org/edge/firmware', revision: '0123456789abcdef0123456789abcdef01234567' },
    },
    deltaCount: 3,
    deltaMaxRatio: 0.9,
    validityDays: 30,
    timeouts: input.timeouts,
  };
}

export class ReleaseHarness {
  private running?: Promise<void>;
  private constructor(
    readonly config: Config,
    readonly stateDir: string,
    readonly store: ArtifactStore,
    readonly client: Client,
    private readonly closeClient: () => Promise<void>,
    private readonly worker?: Worker,
    private readonly connection?: NativeConnection,
  ) {
    if (worker) this.running = worker.run();
  }

  /**
   * env: extra OTA_* variables (e.g. OTA_STORE=s3://...). withWorker=false leaves the
   * pipeline to workers elsewhere (a child process in the crash test).
   */
  static async start(temporalAddress: string, taskQueue: string, env: Record<string, string> = {}, withWorker = true): Promise<ReleaseHarness> {
    const stateDir = await mkdtemp(join(tmpdir(), 'ota-release-test-'));
    const config = loadConfig({
      env: { OTA_STATE_DIR: stateDir, OTA_TEMPORAL_ADDRESS: temporalAddress, OTA_TASK_QUEUE: taskQueue, ...env },
      cwd: stateDir,
    });
    let worker: Worker | undefined;
    let connection: NativeConnection | undefined;
    if (withWorker) {
      // ReleaseActivityDeps puts its work folder under $OTA_STATE_DIR (read when it is built).
      const previous = process.env.OTA_STATE_DIR;
      process.env.OTA_STATE_DIR = stateDir;
      const activities = createActivities(config);
      if (previous === undefined) delete process.env.OTA_STATE_DIR;
      else process.env.OTA_STATE_DIR = previous;
      ({ worker, connection } = await createWorker(config.temporal, activities));
    }
    const { client, close } = await connectClient(config.temporal);
    return new ReleaseHarness(config, stateDir, openArtifactStore(config.store), client, close, worker, connection);
  }

  /** builder: who signs as the builder; default the configured builder key, null for no builder evidence. */
  async request(input: PublishInput, builder?: SigningMode | null): Promise<ReleaseRequest> {
    const signer = builder === null ? undefined : (builder ?? (await builderSigningModeFromConfig(this.config.builder, this.config.signing)));
    return buildReleaseRequest(this.store, { image: input.image, components: input.components ?? [], vex: input.vex }, releaseOptions(input), undefined, signer);
  }

  async publish(input: PublishInput): Promise<PublishedRelease> {
    const handle = await startRelease(this.client, this.config.temporal.taskQueue, await this.request(input));
    return (await handle.result()) as PublishedRelease;
  }

  /** Builds the demo sample image of each version into `dir` (fw-<version>.tar) and publishes it, security version 1, in order. */
  async publishSampleReleases(versions: string[], dir: string): Promise<void> {
    for (const version of versions) {
      const image = join(dir, `fw-${version}.tar`);
      buildSampleImage({ version, out: image });
      await this.publish({ image, version, securityVersion: 1 });
    }
  }

  /** The failure a person would see (`ota release publish` prints the same text). */
  async publishFailure(input: PublishInput): Promise<string> {
    try {
      await this.publish(input);
    } catch (err) {
      return failureMessage(err);
    }
    throw new Error(`publishing ${input.version} unexpectedly succeeded`);
  }

  async manifestBytes(version: string): Promise<Buffer> {
    return this.store.getBytes(manifestKey(HARDWARE, version));
  }

  async index(channel = 'stable'): Promise<ReleaseIndex | undefined> {
    const key = releaseIndexKey(HARDWARE, channel);
    if (!(await this.store.head(key))) return undefined;
    return parseReleaseIndex(await this.store.getBytes(key));
  }

  async trustRoot(): Promise<LocalTrustRootJSON> {
    return readTrustRoot(this.config.trust.trustedRootPath);
  }

  async verify(version: string, overrides: VerifyOverrides = {}): Promise<VerifyReleaseReport> {
    const trustRoot = overrides.trustRoot ?? (await this.trustRoot());
    return verifyRelease({
      manifestBytes: overrides.manifestBytes ?? (await this.manifestBytes(version)),
      bundle: overrides.bundle ?? (await this.store.getBytes(manifestBundleKey(HARDWARE, version))).toString('utf8'),
      trustRoot,
      policy: policyFor(trustRoot),
      reader: storeReader(this.store),
      now: overrides.now,
      installed: overrides.installed,
      imagePath: overrides.imagePath,
    });
  }

  async close(): Promise<void> {
    if (this.worker) {
      this.worker.shutdown();
      await this.running?.catch(() => undefined);
    }
    await this.connection?.close();
    await this.closeClient();
    await this.store.close();
    await rm(this.stateDir, { recursive: true, force: true });
  }
}

/** Checks that failed, as `artifact: detail` lines (empty when the release verified). */
export function failedChecks(report: VerifyReleaseReport): string[] {
  return report.checks.filter((c) => !c.ok).map((c) => `${c.artifact}: ${c.detail}`);
}
