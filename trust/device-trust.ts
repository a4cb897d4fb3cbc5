// The device's gateway trust in TUF (issue 14 item 4): the gateway answer keys and the fleet CA roots a
// device trusts, as an `edge-ota.device-trust.v1` document signed into top-level targets by the targets
// key (offline). A device takes it from the same verified walk as its releases, so a rotated answer key
// or fleet CA reaches it through the TUF chain instead of a provision flag. Bounded and validated before
// use: a document that does not parse is refused (TUF_MALFORMED_METADATA), not half-used.
import { createPublicKey, X509Certificate } from 'node:crypto';
import type { Metadata, Targets } from '@tufjs/models';
import { z } from 'zod';
import { algorithmOf } from '../schemas/device-envelope.js';
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

/**
 * What is wrong with a parsed document, if anything: each answer key must be an Ed25519 or ECDSA P-256
 * public key (what a device verifies answers with) and each fleet CA root a self-signed CA certificate.
 */
export function deviceTrustProblem(doc: DeviceTrustDocument): string | undefined {
  for (const [i, key] of doc.answerKeys.entries()) {
    try {
      algorithmOf(createPublicKey(key));
    } catch (err) {
      return `answer key ${i + 1} does not parse: ${(err as Error).message}`;
    }
  }
  for (const [i, pem] of doc.fleetCaRoots.entries()) {
    try {
      const cert = new X509Certificate(pem);
      if (!cert.ca) return `fleet CA root ${i + 1} is not a CA certificate`;
      if (!cert.checkIssued(cert) || !cert.verify(cert.publicKey)) return `fleet CA root ${i + 1} is not self-signed (list the root, not the intermediate)`;
    } catch (err) {
      return `fleet CA root ${i + 1} does not parse: ${(err as Error).message}`;
    }
  }
  return undefined;
}

/** A new targets version carrying this document (each key and certificate must parse). */
export function setDeviceTrust(repo: TufRepository, doc: Omit<DeviceTrustDocument, 'type'>, signing: OnlineSigning): TufRepository {
  const parsed = deviceTrustSchema.safeParse({ type: DEVICE_TRUST_TYPE, ...doc });
  if (!parsed.success) throw new TufInvalidChangeError(`device trust: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const problem = deviceTrustProblem(parsed.data);
  if (problem) throw new TufInvalidChangeError(`device trust: ${problem}`);
  const json = signedJSON(repo.targets);
  json[DEVICE_TRUST_FIELD] = parsed.data;
  return nextTargets(repo, json, signing);
}

/**
 * The document verified targets carry, or undefined (the device then keeps its provisioned pins). A
 * document that does not parse, or lists a key or root a device cannot use, is TUF_MALFORMED_METADATA.
 */
export function deviceTrustOf(targets: Metadata<Targets>): DeviceTrustDocument | undefined {
  const raw = targets.signed.unrecognizedFields[DEVICE_TRUST_FIELD];
  if (raw === undefined) return undefined;
  const parsed = deviceTrustSchema.safeParse(raw);
  if (!parsed.success) throw new TufMalformedMetadataError(`targets version ${targets.signed.version} carries a device trust document that is not ${DEVICE_TRUST_TYPE}`);
  const problem = deviceTrustProblem(parsed.data);
  if (problem) throw new TufMalformedMetadataError(`targets version ${targets.signed.version}: device trust: ${problem}`);
  return parsed.data;
}
