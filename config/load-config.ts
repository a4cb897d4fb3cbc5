// Loads the one configuration from layers, lowest precedence first:
//   built-in defaults (the embedded local stack) < the running `ota dev up` stack (config/stack-state.ts)
//   < config file < OTA_* environment < --set flags.
// Each leaf remembers which layer set it, so a bad value is reported with its field,
// the reason, and where it came from, before anything talks to Temporal or a store.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { configSchema, type Config } from '../schemas/config.js';
import { defaultStateDir } from '../platform/paths.js';
import { zodIssueFields } from '../platform/zod-issues.js';
import { ENV_BINDINGS } from './env-bindings.js';
import { readStackState, stackStateDir, stackStatePath, StackStateError } from './stack-state.js';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadConfigOptions {
  /** Explicit config file (--config); otherwise OTA_CONFIG, then ./ota.config.{yml,yaml,json} if present. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** `path=value` overrides from --set flags, e.g. `temporal.address=10.0.0.5:7233`. */
  overrides?: string[];
  cwd?: string;
  /** Leave out the running dev stack's layer (the stack's own processes are configured explicitly). */
  ignoreStack?: boolean;
}

type Tree = { [key: string]: unknown };

export function defaultConfig(stateDir = defaultStateDir): Tree {
  return {
    temporal: { address: '127.0.0.1:7233', namespace: 'ota', taskQueue: 'ota-releases' },
    store: { kind: 'local', dir: join(stateDir, 'artifacts') },
    signing: { mode: 'key', keyPath: join(stateDir, 'keys', 'release-signing.pem') },
    trust: { trustedRootPath: join(stateDir, 'trust', 'trusted_root.json'), keysDir: join(stateDir, 'keys', 'tuf') },
    // A key of its own, not the release key: the pipeline signs only what this builder signed.
    builder: { mode: 'key', keyPath: join(stateDir, 'keys', 'builder-signing.pem') },
    fleet: { databaseUrl: `pglite:${join(stateDir, 'fleet')}` },
    identity: { caDir: join(stateDir, 'ca') },
    gateway: { answerKeyPath: join(stateDir, 'keys', 'gateway-answer.pem') },
  };
}

/** Fields holding file paths: relative values resolve against the file that set them. */
const PATH_FIELDS = [
  'store.dir',
  'signing.keyPath',
  'trust.trustedRootPath',
  'trust.keysDir',
  'builder.keyPath',
  'builder.publicKeyPath',
  'builder.trustedRootPath',
  'temporal.tls.serverCaPath',
  'temporal.tls.clientCertPath',
  'temporal.tls.clientKeyPath',
  'identity.caDir',
  'gateway.answerKeyPath',
];

export function loadConfig(opts: LoadConfigOptions = {}): Config & { sources: Record<string, string> } {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const merged: Tree = {};
  const sources: Record<string, string> = {};

  const stateDir = stackStateDir(env, cwd);
  mergeLayer(merged, sources, defaultConfig(stateDir), 'default');

  // Only where nothing explicit says otherwise: every layer below may override the stack's services.
  if (!opts.ignoreStack) {
    let stack;
    try {
      stack = readStackState(stateDir);
    } catch (err) {
      if (err instanceof StackStateError) throw new ConfigError([err.message]);
      throw err;
    }
    if (stack) mergeLayer(merged, sources, stack.config as Tree, `dev stack ${stackStatePath(stateDir)}`);
  }

  const file = findConfigFile(opts.file ?? env.OTA_CONFIG, cwd);
  if (file) {
    const fromFile = readConfigFile(file);
    resolvePaths(fromFile, dirname(file));
    mergeLayer(merged, sources, fromFile, `file ${file}`);
  }

  for (const [name, binding] of Object.entries(ENV_BINDINGS)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const fromEnv: Tree = {};
    for (const [path, value] of Object.entries(binding(raw))) setPath(fromEnv, path, value);
    resolvePaths(fromEnv, cwd);
    mergeLayer(merged, sources, fromEnv, `env ${name}`);
  }

  const fromFlags: Tree = {};
  for (const override of opts.overrides ?? []) {
    const eq = override.indexOf('=');
    if (eq <= 0) throw new ConfigError([`--set ${override}: expected PATH=VALUE, e.g. temporal.address=127.0.0.1:7233`]);
    setPath(fromFlags, override.slice(0, eq), coerceScalar(override.slice(eq + 1)));
  }
  resolvePaths(fromFlags, cwd);
  mergeLayer(merged, sources, fromFlags, 'flag --set');

  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    throw new ConfigError(
      zodIssueFields(parsed.error, { root: '' }).map(({ path, message }) => {
        const source = sources[path] ?? nearestSource(sources, path);
        const got = getPath(merged, path);
        const shown = got === undefined ? '' : ` (got ${JSON.stringify(got)})`;
        return `${path || '(root)'}: ${message}${shown}${source ? ` [from ${source}]` : ''}`;
      }),
    );
  }
  return { ...parsed.data, sources };
}

function findConfigFile(explicit: string | undefined, cwd: string): string | undefined {
  if (explicit) {
    const p = resolve(cwd, explicit);
    if (!existsSync(p)) throw new ConfigError([`config file ${p} does not exist`]);
    return p;
  }
  for (const name of ['ota.config.yml', 'ota.config.yaml', 'ota.config.json']) {
    const p = join(cwd, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

function readConfigFile(file: string): Tree {
  const text = readFileSync(file, 'utf8');
  let data: unknown;
  try {
    data = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError([`${file}: cannot parse: ${(err as Error).message}`]);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) throw new ConfigError([`${file}: top level must be a mapping of sections (temporal, store, ...)`]);
  return data as Tree;
}

function mergeLayer(target: Tree, sources: Record<string, string>, layer: Tree, source: string, prefix = ''): void {
  for (const [key, value] of Object.entries(layer)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (isTree(value)) {
      // A section switching kind (local -> s3) must not inherit the other kind's fields.
      if (!isTree(target[key]) || ('kind' in value && (target[key] as Tree).kind !== value.kind)) {
        target[key] = {};
        for (const known of Object.keys(sources)) if (known.startsWith(`${path}.`)) delete sources[known];
      }
      mergeLayer(target[key] as Tree, sources, value, source, path);
    } else {
      target[key] = value;
      sources[path] = source;
    }
  }
}

function resolvePaths(tree: Tree, base: string): void {
  for (const path of PATH_FIELDS) {
    const value = getPath(tree, path);
    if (typeof value === 'string' && value !== '' && !isAbsolute(value)) setPath(tree, path, resolve(base, value));
  }
}

function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function setPath(tree: Tree, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = tree;
  for (const key of keys.slice(0, -1)) {
    if (!isTree(node[key])) node[key] = {};
    node = node[key] as Tree;
  }
  node[keys[keys.length - 1]!] = value;
}

function getPath(tree: Tree, path: string): unknown {
  let node: unknown = tree;
  for (const key of path.split('.')) {
    if (!isTree(node)) return undefined;
    node = node[key];
  }
  return node;
}

function nearestSource(sources: Record<string, string>, path: string): string | undefined {
  const hits = Object.entries(sources).filter(([p]) => p.startsWith(`${path}.`) || path.startsWith(`${p}.`));
  return hits.length ? hits[hits.length - 1]![1] : undefined;
}

function coerceScalar(raw: string): unknown {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (/^-?\d+$/.test(raw)) return Number(raw);
  return raw;
}
