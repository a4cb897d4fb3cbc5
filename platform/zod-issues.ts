// One way to turn zod issues into "field: message" text, so every parser names the offending field alike.
import type { z } from 'zod';

export interface ZodIssueStyle {
  /** How a list index reads: `rings.0.size` ('dots', zod's own path joined) or `rings[0].size` ('brackets'). */
  indexes?: 'dots' | 'brackets';
  /** What an empty path (the document itself) reads as. */
  root?: string;
  /**
   * 'per-key': one issue per unknown key, at the key ("payload.colour: unknown field");
   * 'as-reported': zod's single "Unrecognized key" issue on the parent object.
   */
  unknownKeys?: 'per-key' | 'as-reported';
}

export interface ZodIssueField {
  path: string;
  message: string;
}

/** Anything carrying zod issues: a ZodError, or `{ issues: [issue] }` for one. */
export type ZodIssues = { readonly issues: readonly z.core.$ZodIssue[] };

export function zodIssuePath(path: readonly PropertyKey[], style: ZodIssueStyle = {}): string {
  const joined =
    style.indexes === 'brackets'
      ? path.reduce<string>((out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)), '')
      : path.map(String).join('.');
  return joined || (style.root ?? '(root)');
}

export function zodIssueFields(error: ZodIssues, style: ZodIssueStyle = {}): ZodIssueField[] {
  return error.issues.flatMap((issue) =>
    style.unknownKeys === 'per-key' && issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: zodIssuePath([...issue.path, key], style), message: 'unknown field' }))
      : [{ path: zodIssuePath(issue.path, style), message: issue.message }],
  );
}

/** "path: message", one line per issue. */
export function zodIssueLines(error: ZodIssues, style: ZodIssueStyle = {}): string[] {
  return zodIssueFields(error, style).map(({ path, message }) => `${path}: ${message}`);
}

/** "metrics.crashCount: ...; payload.colour: unknown field", so a single-line error names each field. */
export function describeZodIssues(error: ZodIssues, style: ZodIssueStyle = {}): string {
  return zodIssueLines(error, style).join('; ');
}
