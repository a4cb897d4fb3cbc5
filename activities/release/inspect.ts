// First step: validate the request against what is already published.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { describeZodIssues } from '../../platform/zod-issues.js';
import { channelSchema, hardwareIdSchema, parseManifest, parseReleaseIndex, semverSchema, type ReleaseIndexEntry } from '../../schemas/manifest.js';
import { hardwarePrefix, manifestBundleKey, manifestKey } from '../../release/layout.js';
import type { PublishedRelease, ReleaseContext as PublishedContext, ReleaseRequest } from '../../release/types.js';
import type { ArtifactStore } from '../../stores/index.js';
import type { ReleaseContext } from './context.js';
import { releaseInputError } from './errors.js';
import { addToIndex } from './publish.js';

const requestFieldsSchema = z.object({
  hardwareId: hardwareIdSchema,
  version: semverSchema,
  channel: channelSchema,
  securityVersion: z.int().min(0).optional(),
  deltaCount: z.int().min(0).max(16),
  deltaMaxRatio: z.number().gt(0).max(1),
  validityDays: z.int().min(1).max(3650),
});

export async function inspectRelease(ctx: ReleaseContext, request: ReleaseRequest): Promise<PublishedContext> {
  const fields = requestFieldsSchema.safeParse(request);
  if (!fields.success) {
    throw releaseInputError(describeZodIssues(fields.error));
  }
  const head = await ctx.store.head(request.image.key);
  if (!head) throw releaseInputError(`image ${request.image.key} is not in the artifact store ${ctx.store.location}`);
  if (head.size !== request.image.size) throw releaseInputError(`image ${request.image.key} has ${head.size} bytes, expected ${request.image.size}`);
  if (head.size === 0) throw releaseInputError('image is empty');

  const byChannel = await readIndexes(ctx.store, request.hardwareId);
  const published = [...byChannel.values()].flat();
  const existing = await readManifestSummary(ctx.store, request.hardwareId, request.version);
  return { existing, published, channelReleases: byChannel.get(request.channel) ?? [] };
}

/** Release indexes of every channel of one hardware id. */
export async function readIndexes(store: ArtifactStore, hardwareId: string): Promise<Map<string, ReleaseIndexEntry[]>> {
  const result = new Map<string, ReleaseIndexEntry[]>();
  for await (const object of store.list(hardwarePrefix(hardwareId))) {
    if (!object.key.endsWith('/index.json')) continue;
    const index = parseReleaseIndex(await store.getBytes(object.key));
    result.set(index.channel, index.releases);
  }
  return result;
}

async function readManifestSummary(store: ArtifactStore, hardwareId: string, version: string): Promise<PublishedContext['existing']> {
  const key = manifestKey(hardwareId, version);
  if (!(await store.head(key))) return undefined;
  const bytes = await store.getBytes(key);
  const manifest = parseManifest(bytes);
  return { manifestKey: key, manifestSha256: createHash('sha256').update(bytes).digest('hex'), imageSha256: manifest.image.sha256, channel: manifest.channel };
}

export async function describeExistingRelease(ctx: ReleaseContext, hardwareId: string, version: string): Promise<PublishedRelease> {
  const summary = await readManifestSummary(ctx.store, hardwareId, version);
  if (!summary) throw releaseInputError(`release ${hardwareId} ${version} disappeared from the store`);
  const manifest = parseManifest(await ctx.store.getBytes(summary.manifestKey));
  // A run that died between publishing the manifest and updating the index leaves a release
  // rollouts cannot see; returning it as 'existing' is the moment to finish that job.
  await addToIndex(ctx.store, manifest, { location: summary.manifestKey, sha256: summary.manifestSha256 });
  return {
    hardwareId,
    version,
    channel: manifest.channel,
    manifestKey: summary.manifestKey,
    manifestSha256: summary.manifestSha256,
    bundleKey: manifestBundleKey(hardwareId, version),
    outcome: 'existing',
    deltas: manifest.deltas.length,
    skippedDeltas: manifest.skippedDeltas.length,
  };
}
