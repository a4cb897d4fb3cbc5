// in-toto Statement v1: the payload of our DSSE attestations. The subject digest is what binds
// an attestation to an artifact, so large images can be attested from a streamed digest.
import { z } from 'zod';
import { sha256Of, type BlobSource } from './blob-source.js';

export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';

const resourceDescriptorSchema = z
  .object({
    name: z.string().optional(),
    uri: z.string().optional(),
    digest: z.record(z.string(), z.string()).optional(),
    content: z.string().optional(),
    downloadLocation: z.string().optional(),
    mediaType: z.string().optional(),
    annotations: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();

export const inTotoStatementSchema = z
  .object({
    _type: z.literal(IN_TOTO_STATEMENT_V1),
    subject: z.array(resourceDescriptorSchema.extend({ digest: z.record(z.string(), z.string()) })).min(1),
    predicateType: z.string().min(1),
    predicate: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();

export type ResourceDescriptor = z.infer<typeof resourceDescriptorSchema>;
export type InTotoStatement = z.infer<typeof inTotoStatementSchema>;

export function makeStatement(subject: InTotoStatement['subject'], predicateType: string, predicate: Record<string, unknown>): InTotoStatement {
  return { _type: IN_TOTO_STATEMENT_V1, subject, predicateType, predicate };
}

/** A subject entry for an artifact, hashing it by streaming. */
export async function subjectFor(name: string, source: BlobSource): Promise<InTotoStatement['subject'][number]> {
  return { name, digest: { sha256: (await sha256Of(source)).toString('hex') } };
}

export function subjectMatchesDigest(statement: InTotoStatement, sha256Hex: string): boolean {
  const wanted = sha256Hex.toLowerCase();
  return statement.subject.some((s) => s.digest.sha256?.toLowerCase() === wanted);
}
