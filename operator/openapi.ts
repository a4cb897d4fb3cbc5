// The OpenAPI 3.1 document of the operator API, generated from the routes' own zod schemas
// (zod 4 z.toJSONSchema), so the document cannot drift from what the API validates.
import { z } from 'zod';
import type { DeclaredRoute } from './route.js';

type JsonSchema = Record<string, unknown>;

const errorSchema: JsonSchema = {
  type: 'object',
  properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } }, required: ['code', 'message'] } },
  required: ['error'],
};

function jsonSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

function parameters(schema: z.ZodType | undefined, where: 'path' | 'query') {
  if (!schema) return [];
  const json = jsonSchema(schema) as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, s]) => ({ name, in: where, required: where === 'path' || (json.required ?? []).includes(name), schema: s }));
}

export function openApiDocument(routes: readonly DeclaredRoute[], version: string): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.url.replace(/:([A-Za-z]+)/g, '{$1}');
    paths[path] ??= {};
    paths[path][r.method.toLowerCase()] = {
      summary: r.summary,
      operationId: `${r.method.toLowerCase()}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      'x-ota-action': r.action,
      parameters: [...parameters(r.params, 'path'), ...parameters(r.query, 'query')],
      ...(r.body && { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(r.body) } } } }),
      responses: {
        200: { description: 'the answer', content: { [r.raw ?? 'application/json']: { schema: { type: 'object' } } } },
        400: { description: 'BAD_REQUEST', content: { 'application/json': { schema: errorSchema } } },
        401: { description: 'MISSING_TOKEN, INVALID_TOKEN, TOKEN_EXPIRED, TOKEN_REVOKED', content: { 'application/json': { schema: errorSchema } } },
        403: { description: 'NO_ROLE, FORBIDDEN, FOUR_EYES', content: { 'application/json': { schema: errorSchema } } },
        404: { description: 'NOT_FOUND', content: { 'application/json': { schema: errorSchema } } },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'edge-ota operator API', version },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'an OIDC JWT from the configured issuer, or an API token (ota_...)' } } },
    security: [{ bearer: [] }],
    paths,
  };
}
