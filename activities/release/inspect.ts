// First step: validate the request against what is already published.
import { z } from 'zod';
import { describeZodIssues } from '../../platform/zod-issues.js';
import { channelSchema, hardwareIdSchema, semverSchema } from '../../schemas/manifest.js';
import { findPublishedManifest, readChannelIndexes, summarizeManifest } from '../../release/catalog.js';
import type { PriorReleases, ReleaseRequest } from '../../release/types.js';
import { releaseBootMeasurement } from '../../release/boot-measurement.js';
import type { ReleaseActivityDeps } from './activity-deps.js';
import { releaseInputError } from './errors.js';

const requestFieldsSchema = z.object({
  hardwareId: hardwareIdSchema,
  version: semverSchema,
  channel: channelSchema,
  securityVersion: z.int().min(0).optional(),
  deltaCount: z.int().min(0).max(16),
  deltaMaxRatio: z.number().gt(0).max(1),
  validityDays: z.int().min(1).max(3650),
});

export async function inspectRelease(ctx: ReleaseActivityDeps, request: ReleaseRequest): Promise<PriorReleases> {
  const fields = requestFieldsSchema.safeParse(request);
  if (!fields.success) {
    throw releaseInputError(describeZodIssues(fields.error));
  }
  const head = await ctx.store.head(request.image.key);
  if (!head) throw releaseInputError(`image ${request.image.key} is not in the artifact store ${ctx.store.location}`);
  if (head.size !== request.image.size) throw releaseInputError(`image ${request.image.key} has ${head.size} bytes, expected ${request.image.size}`);
  if (head.size === 0) throw releaseInputError('image is empty');

  const byChannel = await readChannelIndexes(ctx.store, request.hardwareId);
  const published = [...byChannel.values()].flat();
  const found = await findPublishedManifest(ctx.store, request.hardwareId, request.version);
  const bootMeasurement = releaseBootMeasurement({ hardwareId: request.hardwareId, version: request.version, imageSha256: request.image.sha256 });
  return { existing: found && summarizeManifest(found), published, channelReleases: byChannel.get(request.channel) ?? [], bootMeasurement };
}
