// The device's gateway trust in TUF (issue 14 item 4): the gateway answer keys and the fleet CA roots a
// device trusts, as an `edge-ota.device-trust.v1` document signed into top-level targets by the targets
// key (offline). A device takes it from the same verified walk as its releases, so a rotated answer key
// or fleet CA reaches it through the TUF chain instead of a provision flag. Bounded and validated before
// use: a document that does not parse is refused (TUF_MALFORMED_METADATA), not half-used.
import { createPublicKey, X509Certificate } from 'node:crypto';
import type { Metadata, Targets } from '@tufjs/models';
import { z } from 'zod';
import { TufInvalidChangeError, TufMalformedMetadataError } from './errors.js';
import { signedJSON } from './metadata.js';
import { nextTargets, type OnlineSigning, type TufRepository } from './repository.js';

export const DEVICE_TRUST_TYPE = 'edge-ota.device-trust.v1';
/** Where top-level targets carries the document (signed with the rest of targets). */
export const DEVICE_TRUST_FIELD = 'x-edge-ota-device-trust';

const pem = (label: string, max: number) => z.string().max(max).refine((s) => s.includes(`-----BEGIN ${label}-----`), `a PEM ${label}`);

export const deviceTrustSchema = z.strictObject({
  type: z.literal(DEVICE_TRUST_TYPE),
  /** Public keys (PEM SPKI) that may sign check-in answers; more than one while a rotation overlaps. */
  answerKeys: z.array(pem('PUBLIC KEY', 4096)).min(1).max(4),
  /** Fleet CA root certificates (PEM) the device pins for the gateway's TLS; more than one while rotating. */
  fleetCaRoots: z.array(pem('CERTIFICATE', 16384)).max(4).default([]),
});
export type DeviceTrustDocument = z.infer<typeof deviceTrustSchema>;

/** A new targets version carrying this document (each key and certificate must parse). */
export function setDeviceTrust(repo: TufRepository, doc: Omit<DeviceTrustDocument, 'type'>, signing: OnlineSigning): TufRepository {
  const parsed = deviceTrustSchema.safeParse({ type: DEVICE_TRUST_TYPE, ...doc });
  if (!parsed.success) throw new TufInvalidChangeError(`device trust: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  for (const key of parsed.data.answerKeys) {
    try {
      createPublicKey(key);
    } catch (err) {
      throw new TufInvalidChangeError(`device trust: an answer key does not parse: ${(err as Error).message}`);
    }
  }
  for (const cert of parsed.data.fleetCaRoots) {
    try {
      if (!new X509Certificate(cert).ca) throw new Error('not a CA certificate');
    } catch (err) {
      throw new TufInvalidChangeError(`device trust: a fleet CA root does not parse: ${(err as Error).message}`);
    }
  }
  const json = signedJSON(repo.targets);
  json[DEVICE_TRUST_FIELD] = parsed.data;
  return nextTargets(repo, json, signing);
}

/** The document verified targets carry, or undefined (the device then keeps its provisioned pins). */
export function deviceTrustOf(targets: Metadata<Targets>): DeviceTrustDocument | undefined {
  const raw = targets.signed.unrecognizedFields[DEVICE_TRUST_FIELD];
  if (raw === undefined) return undefined;
  const parsed = deviceTrustSchema.safeParse(raw);
  if (!parsed.success) throw new TufMalformedMetadataError(`targets version ${targets.signed.version} carries a device trust document that is not ${DEVICE_TRUST_TYPE}`);
  return parsed.data;
}
