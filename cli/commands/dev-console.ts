// `ota dev console`: "open the console" as one step. Prints the running stack's console URL and a
// short-lived API token to sign in with (viewer unless --role says otherwise), created as
// `ota operator token create` does (only its hash is stored; the creation is in the audit log).
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { readStackState } from '../../config/stack-state.js';
import { recordConsoleToken } from '../../devstack/console-tokens.js';
import { FleetStore } from '../../fleet/fleet-store.js';
import { defaultStateDir } from '../../platform/paths.js';
import { isRole, ROLES } from '../../operator/roles.js';
import { parseDuration } from '../../rollout/duration.js';
import { configFrom } from '../context.js';
import { printResult } from '../output.js';
import { localOperator } from './operator.js';

/** A console session for trying the stack: hours, not the 30 days of the stack's own admin token. */
const MAX_TTL_SECONDS = 24 * 3600;

export function registerDevConsoleCommand(dev: Command): void {
  dev
    .command('console')
    .description("the running stack's web console: its URL and a short-lived API token to sign in with (revoked by ota dev down)")
    .option('--role <role>', `the token's role: ${ROLES.join(', ')}`, 'viewer')
    .option('--ttl <duration>', 'how long the token is valid (at most 24h)', '1h')
    .option('--state-dir <dir>', 'state directory of the stack; default $OTA_STATE_DIR or .ota', defaultStateDir)
    .option('--json', 'print JSON')
    .action(async (opts: { role: string; ttl: string; stateDir: string; json?: boolean }, command: Command) => {
      if (!isRole(opts.role)) throw new Error(`--role must be one of ${ROLES.join(', ')}, got ${opts.role}`);
      const ttlSeconds = Math.floor(parseDuration(opts.ttl) / 1000);
      if (!(ttlSeconds >= 60 && ttlSeconds <= MAX_TTL_SECONDS)) throw new Error(`--ttl must be from 1m to 24h, got ${opts.ttl}`);
      const stateDir = resolve(opts.stateDir);
      const api = readStackState(stateDir)?.operatorApi;
      if (!api) throw new Error(`no dev stack with an operator API runs from ${stateDir}: start one with \`ota dev up --detach\``);
      const databaseUrl = configFrom(command).fleet.databaseUrl;
      if (!databaseUrl.startsWith('postgres')) throw new Error('the fleet database is embedded PGlite (one opener, the running services): create a token where it runs (ota operator token create)');
      const fleet = await FleetStore.open(databaseUrl);
      let created: Awaited<ReturnType<FleetStore['createOperatorToken']>>;
      try {
        created = await fleet.createOperatorToken({ name: 'dev-console', role: opts.role, ttlSeconds, createdBy: localOperator() });
        await fleet.appendAudit({ actor: localOperator(), role: 'admin', action: 'token.create', target: `token:${created.record.id}`, result: 'ok', detail: { via: 'ota dev console', name: 'dev-console', role: opts.role, expiresAt: created.record.expiresAt.toISOString() } });
      } finally {
        await fleet.close();
      }
      recordConsoleToken(stateDir, created.record.id);
      const url = `${api.url}/console/`;
      const signIn = `${api.url}/console/sign-in`;
      printResult(opts, { url, signIn, token: created.token, tokenId: created.record.id, role: created.record.role, expiresAt: created.record.expiresAt.toISOString() }, () =>
        [
          `console  ${url}`,
          `sign in at ${signIn} with this ${created.record.role} API token (expires ${created.record.expiresAt.toISOString()}; ota dev down revokes it):`,
          created.token,
        ].join('\n'),
      );
    });
}
