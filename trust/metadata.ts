// TUF metadata as this platform writes it: the stored bytes (what snapshot and timestamp hash), expiry
// times, and a fresh Metadata object built from an edited copy of the signed part (the models'
// fields are read-only, so every change is a new version built from JSON).
import { createHash } from 'node:crypto';
import { Metadata, MetadataKind, MetaFile, type Root, type Snapshot, type Targets, type Timestamp } from '@tufjs/models';

export type TufSigned = Root | Targets | Snapshot | Timestamp;
export type SignedJSON = Record<string, unknown> & { version: number; expires: string };

/** ISO 8601 without fractions, as TUF expects. */
export function tufTime(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z');
}

export function expiresAfter(now: Date, hours: number): string {
  return tufTime(new Date(now.getTime() + hours * 3_600_000));
}

/**
 * The stored form. Signatures are over the canonical JSON of `signed` (the models compute it); the file
 * itself is plain JSON, because OLPC canonical JSON leaves the newlines of a PEM key unescaped, which no
 * JSON parser reads. Snapshot and timestamp pin these exact bytes by length and sha256.
 */
export function metadataBytes(metadata: Metadata<TufSigned>): Buffer {
  return Buffer.from(JSON.stringify(metadata.toJSON()));
}

export function signedJSON(metadata: Metadata<TufSigned>): SignedJSON {
  return structuredClone(metadata.signed.toJSON()) as SignedJSON;
}

/** An unsigned Metadata of `kind` from a signed part given as JSON. */
export function unsigned(kind: MetadataKind.Root, signed: SignedJSON): Metadata<Root>;
export function unsigned(kind: MetadataKind.Targets, signed: SignedJSON): Metadata<Targets>;
export function unsigned(kind: MetadataKind.Snapshot, signed: SignedJSON): Metadata<Snapshot>;
export function unsigned(kind: MetadataKind.Timestamp, signed: SignedJSON): Metadata<Timestamp>;
export function unsigned(kind: MetadataKind, signed: SignedJSON): Metadata<TufSigned> {
  return Metadata.fromJSON(kind as MetadataKind.Root, { signed: { ...signed, _type: kind }, signatures: [] } as never);
}

/** A snapshot/timestamp entry pinning a metadata file by version, length and sha256. */
export function metaFileFor(metadata: Metadata<TufSigned>): MetaFile {
  const bytes = metadataBytes(metadata);
  return new MetaFile({ version: metadata.signed.version, length: bytes.length, hashes: { sha256: createHash('sha256').update(bytes).digest('hex') } });
}
