// `ota gateway`: runs the device gateway in the foreground until SIGTERM/SIGINT, with the fleet
// database and artifact store named by the configuration.
import { readTrustRoot } from '../../signing/trust-root.js';
import type { Command } from 'commander';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { redact } from '../../fleet/database.js';
import { FleetStore } from '../../fleet/fleet-store.js';
import type { ReleasePolicy } from '../../gateway/checkin-offer.js';
import { startGateway, TICKET_KEY_BYTES } from '../../gateway/server.js';
import { createGatewayMetrics } from '../../metrics/gateway-metrics.js';
import { createRegistry } from '../../metrics/registry.js';
import type { DeviceIdentityOptions } from '../../gateway/certificate-routes.js';
import { readFleetCa } from '../../identity/ca-files.js';
import { projectRoot } from '../../platform/paths.js';
import { openArtifactStore } from '../../stores/open-store.js';
import { configFrom } from '../context.js';
import { loadGatewayAnswerKey } from './gateway-answer-key.js';

export interface GatewayFlags {
  host: string;
  port: string;
  enrollmentTokenFile?: string;
  insecureSharedToken?: boolean;
  nonceTtl: string;
  pollAfter: string;
  releasePolicy: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsTicketKey?: string;
  mtls?: boolean;
  deviceCertHours: string;
}

export function positiveInt(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive whole number of seconds, got "${raw}"`);
  return n;
}

/**
 * The lab-only fleet-wide token: used only with --insecure-shared-token (or gateway.insecureSharedToken),
 * from --enrollment-token-file or OTA_ENROLLMENT_TOKEN, with a warning; without the flag a configured
 * token is ignored, also with a warning, and devices are admitted per device only.
 */
export function insecureSharedToken(opts: Pick<GatewayFlags, 'enrollmentTokenFile' | 'insecureSharedToken'>, fromConfig: boolean, warn: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): string | undefined {
  const token = opts.enrollmentTokenFile ? readFileSync(opts.enrollmentTokenFile, 'utf8').trim() : process.env.OTA_ENROLLMENT_TOKEN?.trim();
  if (!(opts.insecureSharedToken || fromConfig)) {
    if (token) warn('ota gateway: WARNING: a shared enrollment token is configured but ignored; devices are admitted per device (ota fleet preauthorize / token / factory-ca). Lab only: --insecure-shared-token');
    return undefined;
  }
  if (!token) throw new Error('--insecure-shared-token needs the token in --enrollment-token-file or OTA_ENROLLMENT_TOKEN');
  if (token.length < 16) throw new Error('the shared enrollment token must be at least 16 characters');
  warn('ota gateway: WARNING: --insecure-shared-token: anyone holding the fleet-wide token can enroll any device id (lab only; admitted devices get channel stable and no labels)');
  return token;
}

/** The gateway's flags, shared by `ota gateway` and `ota serve`. */
export function withGatewayOptions(command: Command): Command {
  return command
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on', '8440')
    .option('--insecure-shared-token', 'LAB ONLY: also admit any device presenting the fleet-wide token (--enrollment-token-file or $OTA_ENROLLMENT_TOKEN); warned at start')
    .option('--enrollment-token-file <file>', 'file holding the lab-only shared token (default: $OTA_ENROLLMENT_TOKEN); used only with --insecure-shared-token')
    .option('--nonce-ttl <seconds>', 'lifetime of a device nonce', '300')
    .option('--poll-after <seconds>', 'check-in interval suggested to devices', '300')
    .option('--release-policy <policy>', 'devices without a rollout get: rollouts (only releases a finished rollout released) or newest (newest published)', 'rollouts')
    .option('--tls-cert <file>', 'serve HTTPS with this certificate chain (PEM; `ota fleet ca server-cert` writes one); default plain HTTP')
    .option('--tls-key <file>', 'the private key of --tls-cert')
    .option('--tls-ticket-key <file>', 'TLS session ticket key shared by every gateway replica (48 random bytes: head -c 48 /dev/urandom), so a device resumes its session on whichever replica the balancer picks; default a key of this process')
    .option('--mtls', 'mutual TLS (with --tls-cert/--tls-key): devices get client certificates from the fleet CA (identity.caDir) at POST /v1/certificates and present them on every other request')
    .option('--device-cert-hours <hours>', 'lifetime of the device certificates --mtls issues', '24');
}

/** --mtls: the fleet CA the server certificate came from issues and checks the device certificates. */
export async function gatewayDeviceIdentity(opts: GatewayFlags, caDir: string): Promise<DeviceIdentityOptions | undefined> {
  if (!opts.mtls) return undefined;
  if (!opts.tlsCert) throw new Error('--mtls needs --tls-cert and --tls-key (a server certificate from `ota fleet ca server-cert`)');
  const hours = Number(opts.deviceCertHours);
  if (!Number.isFinite(hours) || hours <= 0 || hours > 24 * 366) throw new Error(`--device-cert-hours must be a positive number of hours up to a year, got "${opts.deviceCertHours}"`);
  return { ca: await readFleetCa(caDir), certificateHours: hours };
}

/** --tls-cert and --tls-key together switch the gateway to HTTPS. */
export function gatewayTls(opts: GatewayFlags): { cert: Buffer; key: Buffer; ticketKeys?: Buffer } | undefined {
  if (!opts.tlsCert !== !opts.tlsKey) throw new Error('--tls-cert and --tls-key go together');
  if (opts.tlsTicketKey && !opts.tlsCert) throw new Error('--tls-ticket-key needs --tls-cert and --tls-key');
  if (!opts.tlsCert || !opts.tlsKey) return undefined;
  return { cert: readFileSync(opts.tlsCert), key: readFileSync(opts.tlsKey), ...(opts.tlsTicketKey && { ticketKeys: readTicketKey(opts.tlsTicketKey) }) };
}

/** The shared session ticket key: exactly TICKET_KEY_BYTES from a file (bounded before it is read whole). */
export function readTicketKey(file: string): Buffer {
  const size = statSync(file).size;
  if (size !== TICKET_KEY_BYTES) throw new Error(`--tls-ticket-key ${file}: must hold exactly ${TICKET_KEY_BYTES} bytes (head -c ${TICKET_KEY_BYTES} /dev/urandom > ${file}), it holds ${size}`);
  return readFileSync(file);
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
      const tls = gatewayTls(opts);
      const config = configFrom(command);
      const token = insecureSharedToken(opts, config.gateway.insecureSharedToken);
      const { version } = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string };
      const answerKey = await loadGatewayAnswerKey(config.gateway.answerKeyPath);
      const deviceIdentity = await gatewayDeviceIdentity(opts, config.identity.caDir);
      const fleet = await FleetStore.open(config.fleet.databaseUrl);
      const store = openArtifactStore(config.store);
      const gateway = await startGateway({ host: opts.host, port, version, fleet, store, insecureSharedToken: token, nonceTtlSeconds, pollAfterSeconds, releasePolicy: releasePolicy(opts.releasePolicy), tls, answerKey, deviceIdentity, metrics: createGatewayMetrics(createRegistry('gateway')), attestation: config.gateway.attestation, drift: config.gateway.drift, onDemandDeltas: config.gateway.onDemandDeltas, keepAliveTimeoutSeconds: config.gateway.keepAliveTimeoutSeconds, nextNonceTtlSeconds: config.gateway.nextNonceTtlSeconds, tlsSessionSeconds: config.gateway.tlsSessionSeconds, sigstoreTrustRoot: await readTrustRoot(config.trust.trustedRootPath) }).catch(async (error: unknown) => {
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
        `ota gateway ${version} listening on ${gateway.url} (fleet ${redact(config.fleet.databaseUrl)}, store ${store.location}, admission per device${token ? ' + INSECURE shared token' : ''}${deviceIdentity ? `, mutual TLS with ${deviceIdentity.certificateHours} h device certificates` : ''})\n`,
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
