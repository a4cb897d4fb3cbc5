// `ota gateway`: runs the device gateway in the foreground until SIGTERM/SIGINT, with the fleet
// database and artifact store named by the configuration.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { redact } from '../../fleet/database.js';
import { FleetStore } from '../../fleet/fleet-store.js';
import type { ReleasePolicy } from '../../gateway/checkin-offer.js';
import { startGateway } from '../../gateway/server.js';
import { projectRoot } from '../../platform/paths.js';
import { openArtifactStore } from '../../stores/open-store.js';
import { configFrom } from '../context.js';
import { loadGatewayAnswerKey } from './gateway-answer-key.js';

export interface GatewayFlags {
  host: string;
  port: string;
  enrollmentTokenFile?: string;
  nonceTtl: string;
  pollAfter: string;
  releasePolicy: string;
  tlsCert?: string;
  tlsKey?: string;
}

export function positiveInt(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive whole number of seconds, got "${raw}"`);
  return n;
}

/** --enrollment-token-file wins over OTA_ENROLLMENT_TOKEN; neither means enrollment is closed. */
export function enrollmentToken(file: string | undefined): string | undefined {
  const token = file ? readFileSync(file, 'utf8').trim() : process.env.OTA_ENROLLMENT_TOKEN?.trim();
  if (token !== undefined && token.length < 16) throw new Error('the enrollment token must be at least 16 characters (it is all that stands between strangers and enrollment)');
  return token || undefined;
}

/** The gateway's flags, shared by `ota gateway` and `ota serve`. */
export function withGatewayOptions(command: Command): Command {
  return command
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on', '8440')
    .option('--enrollment-token-file <file>', 'file holding the enrollment token (default: $OTA_ENROLLMENT_TOKEN; none: enrollment closed)')
    .option('--nonce-ttl <seconds>', 'lifetime of a device nonce', '300')
    .option('--poll-after <seconds>', 'check-in interval suggested to devices', '300')
    .option('--release-policy <policy>', 'devices without a rollout get: rollouts (only releases a finished rollout released) or newest (newest published)', 'rollouts')
    .option('--tls-cert <file>', 'serve HTTPS with this certificate chain (PEM; `ota fleet ca server-cert` writes one); default plain HTTP')
    .option('--tls-key <file>', 'the private key of --tls-cert');
}

/** --tls-cert and --tls-key together switch the gateway to HTTPS. */
export function gatewayTls(opts: GatewayFlags): { cert: Buffer; key: Buffer } | undefined {
  if (!opts.tlsCert !== !opts.tlsKey) throw new Error('--tls-cert and --tls-key go together');
  return opts.tlsCert && opts.tlsKey ? { cert: readFileSync(opts.tlsCert), key: readFileSync(opts.tlsKey) } : undefined;
}

export function releasePolicy(raw: string): ReleasePolicy {
  if (raw !== 'rollouts' && raw !== 'newest') throw new Error(`--release-policy must be rollouts or newest, got "${raw}"`);
  return raw;
}

export function registerGatewayCommands(program: Command): void {
  withGatewayOptions(program.command('gateway').description('run the device gateway (HTTP: /healthz and the /v1 device API, see docs/device-api.md)'))
    .action(async (opts: GatewayFlags, command: Command) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number, got "${opts.port}"`);
      const nonceTtlSeconds = positiveInt('--nonce-ttl', opts.nonceTtl);
      const pollAfterSeconds = positiveInt('--poll-after', opts.pollAfter);
      const token = enrollmentToken(opts.enrollmentTokenFile);
      const tls = gatewayTls(opts);
      const config = configFrom(command);
      const { version } = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string };
      const answerKey = await loadGatewayAnswerKey(config.gateway.answerKeyPath);
      const fleet = await FleetStore.open(config.fleet.databaseUrl);
      const store = openArtifactStore(config.store);
      const gateway = await startGateway({ host: opts.host, port, version, fleet, store, enrollmentToken: token, nonceTtlSeconds, pollAfterSeconds, releasePolicy: releasePolicy(opts.releasePolicy), tls, answerKey, attestation: config.gateway.attestation }).catch(async (error: unknown) => {
        await fleet.close();
        await store.close();
        throw error;
      });
      // Used and expired nonces are only history: drop them hourly so the table stays small; so are
      // heartbeats older than any rollout window (30 days).
      const pruning = setInterval(() => {
        void fleet.pruneNonces().catch(() => {});
        void fleet.pruneHeartbeats().catch(() => {});
      }, 3_600_000);
      pruning.unref();
      process.stderr.write(
        `ota gateway ${version} listening on ${gateway.url} (fleet ${redact(config.fleet.databaseUrl)}, store ${store.location}, enrollment ${token ? 'open with token' : 'closed'})\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals) => {
          process.stderr.write(`ota gateway: ${signal}, shutting down\n`);
          clearInterval(pruning);
          gateway
            .close()
            .then(() => Promise.all([fleet.close(), store.close()]))
            .then(() => resolve(), () => resolve());
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
    });
}
