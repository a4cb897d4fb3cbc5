// Release-engineer VEX statements (YAML or JSON list), validated with zod so a bad entry
// is reported by index and field instead of silently producing a wrong VEX.
import { readFile } from 'node:fs/promises';
import { Enums } from '@cyclonedx/cyclonedx-library';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { canonicalPurl } from './purl.js';

const STATES = Object.values(Enums.Vulnerability.AnalysisState) as [string, ...string[]];
const JUSTIFICATIONS = Object.values(Enums.Vulnerability.AnalysisJustification) as [string, ...string[]];
const RESPONSES = Object.values(Enums.Vulnerability.AnalysisResponse) as [string, ...string[]];

// CVE-2024-1234, GHSA-xxxx-xxxx-xxxx, and OSV-style ids (PYSEC-2021-1, GO-2022-0001, DSA-5555-1, ...).
const VULN_ID = /^(CVE-\d{4}-\d{4,}|GHSA(-[23456789cfghjmpqrvwx]{4}){3}|[A-Z][A-Z0-9]*(-[A-Za-z0-9._]+)+)$/;

export const vexStatementSchema = z
  .object({
    vulnerability: z.string().regex(VULN_ID, 'must be a CVE-, GHSA- or OSV-style id (e.g. CVE-2024-1234)'),
    purl: z.string().refine((p) => {
      try {
        canonicalPurl(p);
        return p.startsWith('pkg:');
      } catch {
        return false;
      }
    }, 'must be a valid package URL (pkg:type/namespace/name@version)'),
    state: z.enum(STATES as [Enums.Vulnerability.AnalysisState, ...Enums.Vulnerability.AnalysisState[]]),
    justification: z
      .enum(JUSTIFICATIONS as [Enums.Vulnerability.AnalysisJustification, ...Enums.Vulnerability.AnalysisJustification[]])
      .optional(),
    detail: z.string().min(1).optional(),
    response: z
      .array(z.enum(RESPONSES as [Enums.Vulnerability.AnalysisResponse, ...Enums.Vulnerability.AnalysisResponse[]]))
      .optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.state === 'not_affected' && !s.justification) {
      ctx.addIssue({ code: 'custom', path: ['justification'], message: `required when state is not_affected (one of ${JUSTIFICATIONS.join(', ')})` });
    }
    if (s.justification && s.state !== 'not_affected') {
      ctx.addIssue({ code: 'custom', path: ['justification'], message: 'only allowed when state is not_affected' });
    }
  });

export type VexStatement = z.infer<typeof vexStatementSchema>;

export class VexStatementError extends Error {
  override name = 'VexStatementError';
  constructor(readonly problems: { index?: number; field?: string; message: string }[], source: string) {
    super(
      `${source}: invalid VEX statements:\n` +
        problems
          .map((p) => `  - ${p.index !== undefined ? `statement ${p.index}` : 'document'}${p.field ? ` field "${p.field}"` : ''}: ${p.message}`)
          .join('\n'),
    );
  }
}

/** Validate already-parsed data: a list, or an object with a `statements` list. */
export function parseVexStatements(data: unknown, source = 'statements'): VexStatement[] {
  const list = Array.isArray(data) ? data : (data as { statements?: unknown } | null)?.statements;
  if (!Array.isArray(list)) {
    throw new VexStatementError([{ message: 'expected a list of statements (or an object with a "statements" list)' }], source);
  }
  const result = z.array(vexStatementSchema).safeParse(list);
  if (result.success) return result.data;
  throw new VexStatementError(
    result.error.issues.map((issue) => {
      const [index, ...rest] = issue.path;
      let field = rest.map(String).join('.');
      // unknown keys are reported on the object; name them
      if (issue.code === 'unrecognized_keys') field = (issue as { keys: string[] }).keys.join(', ');
      return { index: typeof index === 'number' ? index : undefined, field: field || undefined, message: issue.message };
    }),
    source,
  );
}

export async function readVexStatements(path: string): Promise<VexStatement[]> {
  const text = await readFile(path, 'utf8');
  let data: unknown;
  try {
    data = /\.json$/i.test(path) ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new VexStatementError([{ message: `cannot parse: ${(err as Error).message}` }], path);
  }
  return parseVexStatements(data, path);
}
