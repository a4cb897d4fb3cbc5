// Reads temporal-dev.yml into a validated stack definition. Every error names the file
// and line: YAML syntax errors come with positions, and zod issue paths are mapped back
// to the YAML node they point at.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { zodIssuePath } from '../platform/zod-issues.js';
import { interpolateValue, type Env } from './interpolate.js';
import { stackFileSchema, type NativeRecipe } from './schema.js';

export class StackFileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly detail: string,
  ) {
    super(`${file}${line ? `:${line}` : ''}: ${detail}`);
    this.name = 'StackFileError';
  }
}

export interface ServiceDefinition {
  name: string;
  dependsOn: string[];
  stopSignal: NodeJS.Signals;
  stopGraceMs: number;
  /** Compose profiles: a service with any starts only when named (or needed by one named). */
  profiles: string[];
  native: NativeRecipe;
}

export interface StackDefinition {
  file: string;
  /** Directory of the file: native commands run from here, as Compose resolves paths. */
  dir: string;
  /** Services in file order. */
  services: Map<string, ServiceDefinition>;
}

export function loadStackFile(file: string, env: Env): StackDefinition {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new StackFileError(path, undefined, `cannot read stack file: ${(err as Error).message}`);
  }
  return parseStackFile(text, path, env);
}

export function parseStackFile(text: string, file: string, env: Env): StackDefinition {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const syntax = doc.errors[0];
  if (syntax) {
    const line = lineCounter.linePos(syntax.pos[0]).line;
    throw new StackFileError(file, line, `invalid YAML: ${syntax.message.split('\n')[0]}`);
  }
  const raw = interpolateValue(doc.toJS(), env);
  const parsed = stackFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    // zod reports an unexpected key at its parent object; point at the key itself.
    const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path;
    const line = lineOfPath(doc, lineCounter, path);
    throw new StackFileError(file, line, describeIssue(issue));
  }
  const services = new Map<string, ServiceDefinition>();
  for (const [name, service] of Object.entries(parsed.data.services)) {
    const deps = service.depends_on;
    services.set(name, {
      name,
      dependsOn: deps === undefined ? [] : Array.isArray(deps) ? deps : Object.keys(deps),
      stopSignal: service.stop_signal,
      stopGraceMs: service.stop_grace_period,
      profiles: Array.isArray(service.profiles) ? service.profiles.map(String) : [],
      native: service['x-ota'],
    });
  }
  return { file, dir: dirname(file), services };
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = zodIssuePath(issue.path, { root: '(top level)' });
  // Custom messages already name their subject; zod's built-in ones read "<path>: <message>".
  return `${where}: ${issue.message}`;
}

/** Line of the deepest YAML node along `path` (a missing key points at its parent). */
function lineOfPath(doc: Document, lineCounter: LineCounter, path: PropertyKey[]): number | undefined {
  let node: unknown = doc.contents;
  let offset = (doc.contents as Node | null)?.range?.[0];
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment));
      if (!pair) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node)) {
      const item = node.items[Number(segment)] as Node | undefined;
      if (!item) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else break;
  }
  return offset === undefined ? undefined : lineCounter.linePos(offset).line;
}
