// `ota api`: the operator API alone (deployments that split it from the gateway and worker; with
// PGlite only one process may open the fleet database, so there `ota serve --api-port` mounts it).
// The flags here are shared with `ota serve`.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { redact } from '../../fleet/database.js';
import { FleetStore } from '../../fleet/fleet-store.js';
import type { OperatorApiOptions, RunningOperatorApi } from '../../operator/app.js';
import type { OidcOptions } from '../../operator/identity.js';
import { projectRoot } from '../../platform/paths.js';
import type { Config } from '../../schemas/config.js';
import { openArtifactStore, type ArtifactStore } from '../../stores/index.js';
import { connectClient } from '../../temporal/client.js';
import { trustKeyPaths } from '../../trust/key-files.js';
import type { OnlineSigning } from '../../trust/repository.js';
import { configFrom } from '../context.js';
import { existingSigningKey } from './trust.js';

export interface ApiFlags {
  apiHost: string;
  apiPort?: string;
  apiTlsCert?: string;
  apiTlsKey?: string;
  oidcIssuer?: string;
  oidcAudience?: string;
  oidcRoleClaim?: string;
}

export function withApiOptions(command: Command, defaultPort?: string): Command {
  return command
    .option('--api-host <host>', 'address the operator API listens on', '127.0.0.1')
    .option('--api-port <port>', defaultPort ? 'port of the operator API' : 'serve the operator API on this port too (default: not served)', defaultPort)
    .option('--api-tls-cert <file>', 'serve the operator API over HTTPS with this certificate chain (PEM, e.g. from `ota fleet ca server-cert`)')
    .option('--api-tls-key <file>', 'the private key of --api-tls-cert')
    .option('--oidc-issuer <url>', 'accept bearer JWTs of this OIDC issuer (its JWKS through discovery); default $OTA_OIDC_ISSUER, none: API tokens only')
    .option('--oidc-audience <aud>', 'the audience those JWTs must carry (default $OTA_OIDC_AUDIENCE, else edge-ota)')
    .option('--oidc-role-claim <claim>', 'the JWT claim that names the role', 'ota_role');
}

function oidcFrom(opts: ApiFlags): OidcOptions | undefined {
  const issuer = opts.oidcIssuer ?? process.env.OTA_OIDC_ISSUER;
  if (!issuer) return undefined;
  return { issuer, audience: opts.oidcAudience ?? process.env.OTA_OIDC_AUDIENCE ?? 'edge-ota', roleClaim: opts.oidcRoleClaim };
}

/**
 * The online key and, when this host holds them, the release-publish and targets keys (never created here:
 * a change that needs a missing key is refused). With the publish role delegated, approvals need no targets key.
 */
function trustSigningFrom(config: Config): () => Promise<OnlineSigning> {
  const paths = trustKeyPaths(config.trust, config.signing.keyPath);
  return async () => {
    if (!existsSync(paths.online)) throw new Error(`no trust key ${paths.online} on this host`);
    return {
      targetsKeys: existsSync(paths.targets) ? [await existingSigningKey(paths.targets)] : [],
      onlineKey: await existingSigningKey(paths.online),
      ...(existsSync(paths.publish) && { publishKey: await existingSigningKey(paths.publish) }),
      now: new Date(),
    };
  };
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Starts the API on the given fleet and store (Temporal connected here); undefined when no --api-port. */
export async function startApiFromFlags(config: Config, opts: ApiFlags, fleet: FleetStore, store: ArtifactStore, extra: Pick<OperatorApiOptions, 'extraRoutes'> = {}): Promise<RunningOperatorApi | undefined> {
  if (opts.apiPort === undefined) return undefined;
  if (!opts.apiTlsCert !== !opts.apiTlsKey) throw new Error('--api-tls-cert and --api-tls-key go together');
  // Loaded here, not at startup: every other `ota` command would pay for Fastify and jose.
  const { startOperatorApi } = await import('../../operator/app.js');
  const { registerConsole } = await import('../../console/register.js');
  const temporal = await connectClient(config.temporal);
  const api = await startOperatorApi({
    host: opts.apiHost,
    port: Number(opts.apiPort),
    version: packageVersion(),
    fleet,
    store,
    temporal: { client: temporal.client, taskQueue: config.temporal.taskQueue },
    trustSigning: trustSigningFrom(config),
    oidc: oidcFrom(opts),
    tls: opts.apiTlsCert && opts.apiTlsKey ? { cert: readFileSync(opts.apiTlsCert), key: readFileSync(opts.apiTlsKey) } : undefined,
    ...extra,
    // The web console under /console/ (docs/console.md), on the same app and identity.
    extraRoutes: async (app, context) => {
      await registerConsole(app, { ...context, secure: Boolean(opts.apiTlsCert) });
      await extra.extraRoutes?.(app, context);
    },
  });
  return { ...api, close: async () => (await api.close(), await temporal.close()) };
}

export function registerApiCommand(program: Command): void {
  withApiOptions(program.command('api').description('run the operator API alone (roles, OIDC or API tokens, audit log; docs/operator-api.md)'), '8470').action(async (opts: ApiFlags, command: Command) => {
    const config = configFrom(command);
    const fleet = await FleetStore.open(config.fleet.databaseUrl);
    const store = openArtifactStore(config.store);
    const api = (await startApiFromFlags(config, opts, fleet, store))!;
    process.stderr.write(`ota api ${packageVersion()}: operator API on ${api.url} (fleet ${redact(config.fleet.databaseUrl)}, store ${store.location}, temporal ${config.temporal.address})\n`);
    await new Promise<void>((resolve) => {
      const stop = (signal: NodeJS.Signals) => {
        process.stderr.write(`ota api: ${signal}, shutting down\n`);
        resolve();
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
    await api.close().catch(() => undefined);
    await Promise.all([fleet.close(), store.close()]).catch(() => undefined);
  });
}
