// Compose-style variable interpolation, so the native runner reads the same
// ${VAR}, ${VAR:-default} and ${VAR-default} values Docker Compose would ($$ is a literal $).
export type Env = Record<string, string | undefined>;

const pattern = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

export function interpolateString(text: string, env: Env): string {
  return text.replace(pattern, (match, braced: string | undefined, op: string | undefined, fallback: string | undefined, bare: string | undefined) => {
    if (match === '$$') return '$';
    const name = braced ?? bare ?? '';
    const value = env[name];
    if (op === ':-') return value === undefined || value === '' ? interpolateString(fallback ?? '', env) : value;
    if (op === '-') return value === undefined ? interpolateString(fallback ?? '', env) : value;
    return value ?? '';
  });
}

/** Interpolates every string inside a parsed YAML value (keys stay as written). */
export function interpolateValue(value: unknown, env: Env): unknown {
  if (typeof value === 'string') return interpolateString(value, env);
  if (Array.isArray(value)) return value.map((item) => interpolateValue(item, env));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolateValue(item, env)]));
  }
  return value;
}
