// Real signed releases for the device-agent tests: the release pipeline (Temporal dev server, a
// worker in this process, key-mode signing) publishes sample images into a local artifact store.
// That store folder is exactly an offline bundle; the signing key's trust root is the device's pin.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createActivities } from '../../activities/index.js';
import { loadConfig } from '../../config/load-config.js';
import { buildSampleImage } from '../../demo/sample-image.js';
import { manifestKey } from '../../release/layout.js';
import { buildReleaseRequest, startRelease } from '../../temporal/release-client.js';
import { builderSigningModeFromConfig } from '../../signing/from-config.js';
import type { PublishedRelease } from '../../release/types.js';
import { parseManifest, type Manifest } from '../../schemas/manifest.js';
import { openArtifactStore } from '../../stores/index.js';
import { connectClient } from '../../temporal/client.js';
import { createWorker } from '../../temporal/worker.js';
import { startTemporal } from './temporal.js';

export const DEVICE_HARDWARE = 'edge-gw-dev1';
const COMPONENTS = new URL('../fixtures/sbom/dpkg-status', import.meta.url).pathname;

export interface SampleRelease {
  version: string;
  securityVersion: number;
  /** The raw image the pipeline was given (what a slot must end up holding). */
  imagePath: string;
  sha256: string;
  length: number;
  manifest: Manifest;
}

export interface PublishedFixture {
  /** The local artifact store: an offline bundle. */
  storeDir: string;
  /** The pipeline's trust root (its signing key pinned). */
  trustedRootPath: string;
  /** The pipeline's release signing key (PEM), for tests that sign a variant of a release. */
  signingKeyPath: string;
  releases: Record<string, SampleRelease>;
}

export async function sha256File(path: string, length?: number): Promise<string> {
  const hash = createHash('sha256');
  const end = length === undefined ? undefined : length - 1;
  for await (const chunk of createReadStream(path, { start: 0, end })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Publishes `releases` in order (later ones get deltas from earlier ones) under `dir`. */
export async function publishSampleReleases(dir: string, releases: Array<{ version: string; securityVersion: number }>): Promise<PublishedFixture> {
  await mkdir(join(dir, 'images'), { recursive: true });
  const config = loadConfig({ env: { OTA_STATE_DIR: join(dir, 'ota') }, cwd: dir });
  const { env, config: temporalFor } = await startTemporal();
  try {
    config.temporal = temporalFor('device-agent-releases');
    const { worker, connection } = await createWorker(config.temporal, createActivities(config));
    const { client, close } = await connectClient(config.temporal);
    const store = openArtifactStore(config.store);
    const out: Record<string, SampleRelease> = {};
    try {
      // One runUntil for all releases: a worker shuts down when its runUntil promise settles.
      await worker.runUntil(async () => {
      for (const { version, securityVersion } of releases) {
        const imagePath = join(dir, 'images', `${version}.tar`);
        buildSampleImage({ version, out: imagePath });
        const request = await buildReleaseRequest(
          store,
          { image: imagePath, components: [COMPONENTS] },
          {
            hardwareId: DEVICE_HARDWARE,
            version,
            channel: 'stable',
            securityVersion,
            signing: 'key',
            provenance: { buildType: 'https://edge-ota.dev/test-build', builderId: 'https://edge-ota.dev/builders/test', externalParameters: { version } },
            deltaCount: 3,
            deltaMaxRatio: 0.9,
            validityDays: 30,
          },
          undefined,
          await builderSigningModeFromConfig(config.builder, config.signing),
        );
        const handle = await startRelease(client, config.temporal.taskQueue, request);
        (await handle.result()) as PublishedRelease;
        const manifest = parseManifest(await store.getBytes(manifestKey(DEVICE_HARDWARE, version)));
        out[version] = { version, securityVersion, imagePath, sha256: manifest.image.sha256, length: manifest.image.length, manifest };
      }
      });
    } finally {
      await store.close();
      await close();
      await connection.close();
    }
    if (config.store.kind !== 'local') throw new Error('expected the local artifact store');
    return { storeDir: config.store.dir, trustedRootPath: config.trust.trustedRootPath, signingKeyPath: config.signing.keyPath, releases: out };
  } finally {
    await env.teardown();
  }
}
