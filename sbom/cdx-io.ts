// Serialize a CycloneDX model to JSON 1.6 and refuse to hand out anything the strict
// schema rejects.
import { Serialize, Spec, Validation, type Models } from '@cyclonedx/cyclonedx-library';

export const CDX_SPEC = Spec.Spec1dot6;

export class CycloneDxValidationError extends Error {
  override name = 'CycloneDxValidationError';
  constructor(what: string, readonly details: unknown) {
    super(`${what} failed CycloneDX ${CDX_SPEC.version} schema validation: ${JSON.stringify(details).slice(0, 2000)}`);
  }
}

/** Validate a JSON text against the strict CycloneDX 1.6 schema; throws on failure. */
export async function assertValidCycloneDx(text: string, what = 'document'): Promise<void> {
  const errors = await new Validation.JsonStrictValidator(CDX_SPEC.version).validate(text);
  if (errors !== null) throw new CycloneDxValidationError(what, errors);
}

/** Deterministic (sorted lists) JSON serialization followed by schema validation. */
export async function serializeValidated(bom: Models.Bom, what: string): Promise<{ text: string; json: Record<string, unknown> }> {
  const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(CDX_SPEC));
  const text = serializer.serialize(bom, { sortLists: true, space: 2 });
  await assertValidCycloneDx(text, what);
  return { text, json: JSON.parse(text) as Record<string, unknown> };
}
