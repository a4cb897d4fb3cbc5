// Untrusted metadata bytes to Metadata objects: size checked before JSON.parse (limits in docs/trust.md),
// then the role's shape, each failure a coded error.
import { Metadata, MetadataKind, type Root, type Snapshot, type Targets, type Timestamp } from '@tufjs/models';
import { TufMalformedMetadataError, TufOversizedError } from './errors.js';

/** Largest metadata file accepted per role, in bytes. */
export const METADATA_LIMITS = {
  root: 512 * 1024,
  timestamp: 16 * 1024,
  snapshot: 1024 * 1024,
  targets: 16 * 1024 * 1024,
} as const;

type Kinds = { root: Root; targets: Targets; snapshot: Snapshot; timestamp: Timestamp };

export function parseMetadata<K extends keyof Kinds>(kind: K, bytes: Uint8Array, what: string = `${kind}.json`): Metadata<Kinds[K]> {
  if (bytes.length > METADATA_LIMITS[kind]) throw new TufOversizedError(`${what} is ${bytes.length} bytes, more than the ${METADATA_LIMITS[kind]} allowed`);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new TufMalformedMetadataError(`${what} is not JSON: ${(err as Error).message}`);
  }
  const type = (json as { signed?: { _type?: unknown } } | null)?.signed?._type;
  if (type !== kind) throw new TufMalformedMetadataError(`${what} is not ${kind} metadata (type ${JSON.stringify(type)})`);
  try {
    return Metadata.fromJSON(kind as MetadataKind.Root, json as never) as unknown as Metadata<Kinds[K]>;
  } catch (err) {
    throw new TufMalformedMetadataError(`${what}: ${(err as Error).message}`);
  }
}
