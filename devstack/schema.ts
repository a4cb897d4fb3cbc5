// The shape of temporal-dev.yml: a Docker Compose file whose services each carry an
// `x-ota` extension with the native recipe. Compose keys we do not use are accepted
// (Docker needs them) but misspelled keys are rejected, so a typo fails at its line.
import { z } from 'zod';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** host:port on a loopback interface: the dev stack never listens on the network. */
export const loopbackHostPort = z.string().refine(
  (value) => {
    const match = /^(.+):(\d{1,5})$/.exec(value);
    return match !== null && LOOPBACK_HOSTS.has(match[1]!) && Number(match[2]) > 0 && Number(match[2]) < 65536;
  },
  { message: 'must be a loopback host:port (127.0.0.1:PORT, localhost:PORT or [::1]:PORT)' },
);

const loopbackUrl = z.url().refine((value) => LOOPBACK_HOSTS.has(new URL(value).hostname), {
  message: 'must point at a loopback host (127.0.0.1, localhost or [::1])',
});

export const probeSchema = z.union([
  z.object({ tcp: loopbackHostPort }).strict(),
  z.object({ http: loopbackUrl }).strict(),
  /** For processes with no port (the worker): ready once alive for this many seconds. */
  z.object({ alive: z.number().positive().max(60) }).strict(),
]);

const port = z.coerce.number().int().min(1).max(65535);

export const postgresRecipeSchema = z
  .object({
    dataDir: z.string().min(1),
    port,
    user: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'must be a plain lower-case role name'),
    database: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'must be a plain lower-case database name'),
    /** URL the processes use when no PostgreSQL binaries are installed. */
    embeddedUrl: z.string().startsWith('pglite:'),
  })
  .strict();

export const nativeRecipeSchema = z
  .object({
    driver: z.enum(['exec', 'postgres']).default('exec'),
    command: z.array(z.string().min(1)).min(1).optional(),
    environment: z.record(z.string(), z.string()).default({}),
    mkdir: z.array(z.string().min(1)).default([]),
    listen: z.array(loopbackHostPort).default([]),
    ready: z.array(probeSchema).min(1),
    urls: z.record(z.string(), z.string()).default({}),
    /** Seconds to wait for the ready probes before giving up. */
    timeout: z.number().positive().max(600).default(60),
    postgres: postgresRecipeSchema.optional(),
  })
  .strict()
  .superRefine((recipe, ctx) => {
    if (recipe.driver === 'exec' && !recipe.command) ctx.addIssue({ code: 'custom', path: ['command'], message: 'is required for driver exec' });
    if (recipe.driver === 'postgres' && !recipe.postgres) ctx.addIssue({ code: 'custom', path: ['postgres'], message: 'is required for driver postgres' });
  });

/** Compose durations as used by stop_grace_period: 10s, 1m30s, 500ms. */
const duration = z
  .union([z.string(), z.number()])
  .transform((value, ctx) => {
    if (typeof value === 'number') return value * 1000;
    const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
    if (parts.length === 0 || parts.map((p) => p[0]).join('') !== value) {
      ctx.addIssue({ code: 'custom', message: 'must be a duration such as 10s or 1m30s' });
      return z.NEVER;
    }
    const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
    return parts.reduce((sum, p) => sum + Number(p[1]) * unit[p[2]!]!, 0);
  });

const dependsOn = z.union([
  z.array(z.string()),
  z.record(z.string(), z.object({ condition: z.enum(['service_started', 'service_healthy', 'service_completed_successfully']).optional(), restart: z.boolean().optional(), required: z.boolean().optional() }).strict()),
]);

/** Compose keys a service may carry for Docker; `ota dev` ignores them. */
const composeOnlyKeys = [
  'image', 'build', 'command', 'entrypoint', 'environment', 'env_file', 'ports', 'expose', 'volumes', 'healthcheck',
  'working_dir', 'user', 'restart', 'networks', 'labels', 'container_name', 'hostname', 'init', 'tmpfs', 'ulimits', 'profiles', 'extra_hosts',
] as const;

/** Rejects keys that are neither known nor `x-` extensions, naming the offending key. */
function onlyKnownKeys(known: readonly string[], what: string) {
  return (value: Record<string, unknown>, ctx: z.RefinementCtx) => {
    for (const key of Object.keys(value)) {
      if (!known.includes(key) && !key.startsWith('x-')) {
        ctx.addIssue({ code: 'custom', path: [key], message: `unknown ${what} field "${key}"` });
      }
    }
  };
}

export const serviceSchema = z
  .object({
    ...Object.fromEntries(composeOnlyKeys.map((key) => [key, z.unknown().optional()])),
    depends_on: dependsOn.optional(),
    stop_signal: z.enum(['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP']).default('SIGTERM'),
    stop_grace_period: duration.default(10_000),
    'x-ota': nativeRecipeSchema,
  })
  .catchall(z.unknown())
  .superRefine(onlyKnownKeys([...composeOnlyKeys, 'depends_on', 'stop_signal', 'stop_grace_period', 'x-ota'], 'service'));

export const stackFileSchema = z
  .object({
    name: z.string().optional(),
    services: z.record(z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]*$/, 'service names use letters, digits, . _ -'), serviceSchema),
    volumes: z.unknown().optional(),
    networks: z.unknown().optional(),
  })
  .catchall(z.unknown())
  .superRefine(onlyKnownKeys(['name', 'services', 'volumes', 'networks'], 'top-level'))
  .superRefine((file, ctx) => {
    // Dependencies must name services of this file.
    for (const [name, service] of Object.entries(file.services)) {
      const deps = service.depends_on;
      if (!deps) continue;
      const entries: Array<[string, string | number]> = Array.isArray(deps) ? deps.map((d, i) => [d, i]) : Object.keys(deps).map((d) => [d, d]);
      for (const [dep, key] of entries) {
        if (!(dep in file.services)) {
          ctx.addIssue({ code: 'custom', path: ['services', name, 'depends_on', key], message: `unknown service "${dep}" in depends_on` });
        }
      }
    }
  });

export type StackFile = z.infer<typeof stackFileSchema>;
export type ServiceFile = z.infer<typeof serviceSchema>;
export type NativeRecipe = z.infer<typeof nativeRecipeSchema>;
export type Probe = z.infer<typeof probeSchema>;
export type PostgresRecipe = z.infer<typeof postgresRecipeSchema>;
