// The only way to lower a device's anti-rollback floor: a reset statement for that device id,
// signed by the release signer the device already pins (its trusted_root.json, or its keyless
// identity). It names the device, the new floor, the number of resets applied before it (so it is
// used once: the device counts resets in its floor record) and an expiry (so an unused statement
// does not stay valid for ever). Anything else is refused with FLOOR_RESET_REJECTED and no write.
import { z } from 'zod';
import { CodedError } from '../../platform/coded-error.js';
import { readFileAtMost } from '../../platform/bounded-read.js';
import { SignatureVerificationError } from '../../signing/errors.js';
import { readTrustRoot } from '../../signing/trust-root.js';
import { verifyBundle } from '../../signing/verify.js';
import { policyFor, type KeylessIdentity } from '../../verification/verify-manifest.js';

export const FLOOR_RESET_FORMAT = 'edge-ota.floor-reset.v1';

/** A statement is a few hundred bytes; its bundle a few KiB (keyless with log entries ~10 KiB). */
export const FLOOR_RESET_LIMITS = { statementBytes: 16 * 1024, bundleBytes: 1 << 20 } as const;

export const floorResetStatementSchema = z
  .object({
    format: z.literal(FLOOR_RESET_FORMAT),
    deviceId: z.string().min(1),
    /** The device's new floor (lower than its current one). */
    floor: z.int().min(0),
    /** The device's reset count when the statement was made (`ota-device status` shows it). */
    sequence: z.int().min(0),
    expires: z.iso.datetime({ offset: true }),
  })
  .strict();

export type FloorResetStatement = z.infer<typeof floorResetStatementSchema>;

/** Canonical bytes of a statement, as the operator signs them. */
export function floorResetStatementBytes(statement: Omit<FloorResetStatement, 'format'>): Buffer {
  return Buffer.from(`${JSON.stringify({ format: FLOOR_RESET_FORMAT, ...statement }, null, 2)}\n`);
}

export type FloorResetRejection = 'unreadable' | 'bad-signature' | 'malformed' | 'wrong-device' | 'replayed' | 'expired' | 'floor-mismatch';

export class FloorResetRejectedError extends CodedError<'FLOOR_RESET_REJECTED'> {
  constructor(
    readonly reason: FloorResetRejection,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('FLOOR_RESET_REJECTED', `floor reset statement rejected (${reason}): ${message}`, options);
  }
}

export interface FloorResetFiles {
  statementPath: string;
  /** Its Sigstore bundle; default `<statement>.sigstore.json`. */
  bundlePath?: string;
}

export interface FloorResetContext {
  deviceId: string;
  /** Resets applied on this device so far (its floor record; 0 when it has none). */
  resets: number;
  /** The floor the provisioning asks for: the statement must allow at most that. */
  requestedFloor: number;
  trust: { trustedRootPath: string; keyless?: KeylessIdentity };
  now?: Date;
}

/** Reads (bounded), verifies and checks a reset statement; returns it, or throws FloorResetRejectedError. */
export async function verifyFloorReset(files: FloorResetFiles, context: FloorResetContext): Promise<FloorResetStatement> {
  const bundlePath = files.bundlePath ?? `${files.statementPath}.sigstore.json`;
  const read = (path: string, limit: number) =>
    readFileAtMost(path, limit, path).catch((error: Error) => {
      throw new FloorResetRejectedError('unreadable', error.message, { cause: error });
    });
  const bytes = await read(files.statementPath, FLOOR_RESET_LIMITS.statementBytes);
  const bundle = (await read(bundlePath, FLOOR_RESET_LIMITS.bundleBytes)).toString('utf8');
  const trustRoot = await readTrustRoot(context.trust.trustedRootPath);
  try {
    await verifyBundle({ bundle, artifact: { bytes }, trustRoot, policy: policyFor(trustRoot, context.trust.keyless) });
  } catch (error) {
    if (!(error instanceof SignatureVerificationError)) throw error;
    throw new FloorResetRejectedError('bad-signature', `not signed by the device's pinned release signer: ${error.code}: ${error.message}`, { cause: error });
  }
  let statement: FloorResetStatement;
  try {
    statement = floorResetStatementSchema.parse(JSON.parse(bytes.toString('utf8')));
  } catch (error) {
    throw new FloorResetRejectedError('malformed', (error as Error).message, { cause: error });
  }
  if (statement.deviceId !== context.deviceId) throw new FloorResetRejectedError('wrong-device', `it is for device ${statement.deviceId}, this is ${context.deviceId}`);
  if (statement.sequence !== context.resets) {
    throw new FloorResetRejectedError('replayed', `it names reset ${statement.sequence}, the device has applied ${context.resets} (a statement is used once)`);
  }
  if (Date.parse(statement.expires) <= (context.now ?? new Date()).getTime()) throw new FloorResetRejectedError('expired', `it expired at ${statement.expires}`);
  if (context.requestedFloor < statement.floor) {
    throw new FloorResetRejectedError('floor-mismatch', `it allows a floor of ${statement.floor}, the provisioning asks for ${context.requestedFloor}`);
  }
  return statement;
}
