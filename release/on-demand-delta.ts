// On-demand deltas (docs/deltas.md, "On demand"): names shared by the gateway, the workflows and the
// device, and the pure reading of the signed delta index. The index is the TUF targets role itself:
// each on-demand delta is a target (hash and length, signed by targets) under its release's folder,
// with what the device needs to apply it in `custom.onDemandDelta`. No I/O here.
import { deltaFormatSchema, locationSchema, semverSchema, sha256HexSchema, type DeltaFormat, type ManifestDelta } from '../schemas/manifest.js';
import { z } from 'zod';

/** The Temporal workflow id of the delta from one image to another: concurrent requests share one run. */
export function deltaWorkflowId(fromSha256: string, toSha256: string, format: DeltaFormat = 'ops'): string {
  return `delta-${fromSha256.slice(0, 12)}-${toSha256.slice(0, 12)}${format === 'ops' ? '' : `-${format}`}`;
}

/** Where the delta's TUF target sits: beside the release's manifest, named by its base image. */
export function onDemandTargetPath(hardwareId: string, version: string, fromSha256: string, format: DeltaFormat): string {
  return `releases/${hardwareId}/${version}/on-demand/${fromSha256}.${format}`;
}

export const ON_DEMAND_CUSTOM_FIELD = 'onDemandDelta';

/** What `custom.onDemandDelta` of a delta target says (the rest, sha256 and length, is the target's own). */
export const onDemandCustomSchema = z.strictObject({
  format: deltaFormatSchema,
  fromVersion: semverSchema,
  fromSha256: sha256HexSchema,
  toSha256: sha256HexSchema,
  location: locationSchema,
});
export type OnDemandCustom = z.infer<typeof onDemandCustomSchema>;

/** A target entry as TUF metadata holds it (structural: release/ does not import trust/). */
export interface TargetEntryLike {
  length: number;
  hashes: Record<string, string>;
  custom: Record<string, unknown>;
}

/** The TUF target entry (JSON) for a stored on-demand delta. */
export function onDemandTargetEntry(delta: OnDemandCustom & { sha256: string; length: number }): TargetEntryLike {
  const { sha256, length, ...custom } = delta;
  return { length, hashes: { sha256 }, custom: { [ON_DEMAND_CUSTOM_FIELD]: onDemandCustomSchema.parse(custom) } };
}

/**
 * The on-demand deltas the verified targets list for this release and image, as manifest deltas the
 * device's artifact choice and staging already understand. Entries that are malformed, name another
 * image or sit outside the release's folder are ignored (the device then takes the full image).
 */
export function onDemandDeltasFor(targets: Record<string, TargetEntryLike>, hardwareId: string, version: string, imageSha256: string): ManifestDelta[] {
  const prefix = `releases/${hardwareId}/${version}/on-demand/`;
  const found: ManifestDelta[] = [];
  for (const [path, entry] of Object.entries(targets)) {
    if (!path.startsWith(prefix)) continue;
    const custom = onDemandCustomSchema.safeParse(entry.custom?.[ON_DEMAND_CUSTOM_FIELD]);
    const sha256 = entry.hashes?.sha256;
    if (!custom.success || !sha256 || !sha256HexSchema.safeParse(sha256).success) continue;
    const c = custom.data;
    if (c.toSha256 !== imageSha256 || c.fromSha256 === imageSha256) continue;
    if (path !== onDemandTargetPath(hardwareId, version, c.fromSha256, c.format)) continue;
    found.push({ format: c.format, fromVersion: c.fromVersion, fromSha256: c.fromSha256, toSha256: c.toSha256, sha256, length: entry.length, location: c.location, compression: 'none' });
  }
  return found;
}

/** For the choice: the manifest's own deltas first, then on-demand ones from bases it has none for. */
export function withOnDemandDeltas<M extends { deltas: ManifestDelta[] }>(manifest: M, onDemand: readonly ManifestDelta[]): M {
  const listed = new Set(manifest.deltas.map((d) => `${d.format}:${d.fromSha256}`));
  const extra = onDemand.filter((d) => !listed.has(`${d.format}:${d.fromSha256}`));
  return extra.length === 0 ? manifest : { ...manifest, deltas: [...manifest.deltas, ...extra] };
}

