// The ops delta format, version 1: byte layout, encoders, decoders and zod schemas.
// Layout (all integers little-endian; full description in docs/delta-format.md):
//   header  128 bytes  magic, version, block size, source/target length + sha256, op count, limits
//   op      80 bytes + payload, repeated opCount times, writing the target in order
//   trailer 48 bytes   magic, op count, patch digest (sha256 chain over everything before it)
import { z } from 'zod';
import { describeZodIssues } from '../../platform/zod-issues.js';
import { OpsDeltaError } from './errors.js';

export const OPS_MAGIC = Buffer.from('OTAOPS\r\n', 'latin1');
export const OPS_TRAILER_MAGIC = Buffer.from('OTAEND\r\n', 'latin1');
export const OPS_FORMAT_VERSION = 1;
export const HEADER_BYTES = 128;
export const OP_RECORD_BYTES = 80;
export const TRAILER_BYTES = 48;

/** Hard ceilings a reader enforces whatever the header claims, so a hostile patch cannot make it allocate much. */
export const MAX_OP_TARGET_BYTES = 64 * 1024 * 1024;
export const MAX_SOURCE_EXTENT_BYTES = 256 * 1024 * 1024;

export const OpKind = { copy: 1, bsdiff: 2, replace: 3, zero: 4 } as const;
export type OpKindName = keyof typeof OpKind;
export const ReplaceCodec = { none: 0, brotli: 1 } as const;
export type ReplaceCodecName = keyof typeof ReplaceCodec;

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
const u32 = z.number().int().min(0).max(0xffffffff);
const length = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const opsHeaderSchema = z
  .object({
    version: z.literal(OPS_FORMAT_VERSION),
    flags: z.literal(0),
    blockSize: u32.min(1),
    sourceLength: length,
    targetLength: length,
    sourceSha256: sha256Hex,
    targetSha256: sha256Hex,
    opCount: u32,
    /** Largest target length of any op: the reader's buffers are sized from it. */
    maxOpTargetLength: u32.max(MAX_OP_TARGET_BYTES),
    /** Largest source extent of any BSDIFF op (bspatch holds it in RAM). */
    maxSourceExtentLength: u32.max(MAX_SOURCE_EXTENT_BYTES),
  })
  .strict();
export type OpsHeader = z.infer<typeof opsHeaderSchema>;

const opBase = {
  index: u32,
  targetOffset: length,
  targetLength: length.min(1).max(MAX_OP_TARGET_BYTES),
  sha256: sha256Hex,
};
/** One operation; each writes targetLength bytes at targetOffset, and sha256 is of exactly those bytes. */
export const opRecordSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('copy'), ...opBase, sourceOffset: length, sourceLength: length, payloadLength: z.literal(0), codec: z.literal('none') }).strict()
    .refine((op) => op.sourceLength === op.targetLength, 'a COPY reads as many source bytes as it writes'),
  z.object({ kind: z.literal('bsdiff'), ...opBase, sourceOffset: length, sourceLength: length.min(1).max(MAX_SOURCE_EXTENT_BYTES), payloadLength: length.min(32), codec: z.literal('none') }).strict(),
  z.object({ kind: z.literal('replace'), ...opBase, sourceOffset: z.literal(0), sourceLength: z.literal(0), payloadLength: length.min(1), codec: z.enum(['none', 'brotli']) }).strict()
    .refine((op) => op.codec !== 'none' || op.payloadLength === op.targetLength, 'an uncompressed REPLACE carries exactly its target bytes'),
  z.object({ kind: z.literal('zero'), ...opBase, sourceOffset: z.literal(0), sourceLength: z.literal(0), payloadLength: z.literal(0), codec: z.literal('none') }).strict(),
]);
export type OpRecord = z.infer<typeof opRecordSchema>;

export const opsTrailerSchema = z.object({ opCount: u32, patchDigest: sha256Hex }).strict();
export type OpsTrailer = z.infer<typeof opsTrailerSchema>;

function issues(error: z.ZodError): string {
  return describeZodIssues(error, { root: '(record)' });
}

function readLength(buf: Buffer, at: number, what: string): number {
  const value = buf.readBigUInt64LE(at);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new OpsDeltaError('malformed', `${what} ${value} is too large`);
  return Number(value);
}

export function encodeHeader(header: OpsHeader): Buffer {
  const h = opsHeaderSchema.parse(header);
  const buf = Buffer.alloc(HEADER_BYTES);
  OPS_MAGIC.copy(buf, 0);
  buf.writeUInt16LE(h.version, 8);
  buf.writeUInt16LE(h.flags, 10);
  buf.writeUInt32LE(h.blockSize, 12);
  buf.writeBigUInt64LE(BigInt(h.sourceLength), 16);
  buf.writeBigUInt64LE(BigInt(h.targetLength), 24);
  buf.write(h.sourceSha256, 32, 'hex');
  buf.write(h.targetSha256, 64, 'hex');
  buf.writeUInt32LE(h.opCount, 96);
  buf.writeUInt32LE(h.maxOpTargetLength, 100);
  buf.writeUInt32LE(h.maxSourceExtentLength, 104);
  return buf; // bytes 108..127 reserved, zero
}

export function decodeHeader(buf: Buffer): OpsHeader {
  if (buf.length < HEADER_BYTES) throw new OpsDeltaError('truncated', `ops patch header is ${buf.length} bytes, expected ${HEADER_BYTES}`);
  if (!buf.subarray(0, 8).equals(OPS_MAGIC)) throw new OpsDeltaError('bad-magic', 'not an ops delta (missing OTAOPS magic)');
  const version = buf.readUInt16LE(8);
  if (version !== OPS_FORMAT_VERSION) throw new OpsDeltaError('unsupported-version', `ops delta format version ${version}; this reader knows ${OPS_FORMAT_VERSION}`);
  if (buf.subarray(108, HEADER_BYTES).some((b) => b !== 0)) throw new OpsDeltaError('malformed', 'ops patch header: reserved bytes are not zero');
  const parsed = opsHeaderSchema.safeParse({
    version,
    flags: buf.readUInt16LE(10),
    blockSize: buf.readUInt32LE(12),
    sourceLength: readLength(buf, 16, 'source length'),
    targetLength: readLength(buf, 24, 'target length'),
    sourceSha256: buf.toString('hex', 32, 64),
    targetSha256: buf.toString('hex', 64, 96),
    opCount: buf.readUInt32LE(96),
    maxOpTargetLength: buf.readUInt32LE(100),
    maxSourceExtentLength: buf.readUInt32LE(104),
  });
  if (!parsed.success) throw new OpsDeltaError('malformed', `ops patch header: ${issues(parsed.error)}`);
  return parsed.data;
}

const kindNames = Object.fromEntries(Object.entries(OpKind).map(([k, v]) => [v, k])) as Record<number, OpKindName>;
const codecNames = Object.fromEntries(Object.entries(ReplaceCodec).map(([k, v]) => [v, k])) as Record<number, ReplaceCodecName>;

export function encodeOp(op: OpRecord): Buffer {
  const buf = Buffer.alloc(OP_RECORD_BYTES);
  buf.writeUInt8(OpKind[op.kind], 0);
  buf.writeUInt8(ReplaceCodec[op.codec], 1);
  buf.writeUInt32LE(op.index, 4);
  buf.writeBigUInt64LE(BigInt(op.targetOffset), 8);
  buf.writeBigUInt64LE(BigInt(op.targetLength), 16);
  buf.writeBigUInt64LE(BigInt(op.sourceOffset), 24);
  buf.writeBigUInt64LE(BigInt(op.sourceLength), 32);
  buf.writeBigUInt64LE(BigInt(op.payloadLength), 40);
  buf.write(op.sha256, 48, 'hex');
  return buf;
}

export function decodeOp(buf: Buffer): OpRecord {
  const kind = kindNames[buf[0]!];
  const codec = codecNames[buf[1]!];
  if (!kind) throw new OpsDeltaError('malformed', `op record: unknown kind ${buf[0]}`);
  if (!codec) throw new OpsDeltaError('malformed', `op record: unknown codec ${buf[1]}`);
  if (buf.readUInt16LE(2) !== 0) throw new OpsDeltaError('malformed', 'op record: reserved bytes are not zero');
  const parsed = opRecordSchema.safeParse({
    kind,
    codec,
    index: buf.readUInt32LE(4),
    targetOffset: readLength(buf, 8, 'target offset'),
    targetLength: readLength(buf, 16, 'target length'),
    sourceOffset: readLength(buf, 24, 'source offset'),
    sourceLength: readLength(buf, 32, 'source length'),
    payloadLength: readLength(buf, 40, 'payload length'),
    sha256: buf.toString('hex', 48, 80),
  });
  if (!parsed.success) throw new OpsDeltaError('malformed', `op record ${buf.readUInt32LE(4)}: ${issues(parsed.error)}`);
  return parsed.data;
}

export function encodeTrailer(trailer: OpsTrailer): Buffer {
  const buf = Buffer.alloc(TRAILER_BYTES);
  OPS_TRAILER_MAGIC.copy(buf, 0);
  buf.writeUInt32LE(trailer.opCount, 8);
  buf.write(trailer.patchDigest, 16, 'hex');
  return buf; // bytes 12..15 reserved, zero
}

export function decodeTrailer(buf: Buffer): OpsTrailer {
  if (!buf.subarray(0, 8).equals(OPS_TRAILER_MAGIC)) throw new OpsDeltaError('malformed', 'expected the trailer after the last op (missing OTAEND magic)');
  if (buf.readUInt32LE(12) !== 0) throw new OpsDeltaError('malformed', 'trailer: reserved bytes are not zero');
  return opsTrailerSchema.parse({ opCount: buf.readUInt32LE(8), patchDigest: buf.toString('hex', 16, 48) });
}
