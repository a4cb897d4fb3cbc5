// `ota operator token create|list|revoke`: API tokens for CI and air-gapped sites, managed on the
// host that holds the fleet database (the admin's own access; each change goes into the audit log).
import { hostname, userInfo } from 'node:os';
import type { Command } from 'commander';
import { isRole, ROLES } from '../../operator/roles.js';
import { parseDuration } from '../../rollout/duration.js';
import { withFleetStore } from '../context.js';
import { printResult } from '../output.js';

/** The person at this terminal, as the audit log names a local admin. */
export function localOperator(): string {
  return `${userInfo().username}@${hostname()}`;
}

export function registerOperatorCommands(program: Command): void {
  const token = program.command('operator').description('operator identities for the operator API').command('token').description('API tokens (only their hash is stored)');
  token
    .command('create')
    .description('a new API token: printed once, never stored')
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .requiredOption('--ttl <duration>', 'lifetime, e.g. 12h, 30d')
    .option('--name <name>', 'who or what uses it (the audit log names it token:<name>)', 'ci')
    .option('--json', 'print JSON')
    .action(async (opts: { role: string; ttl: string; name: string; json?: boolean }, command: Command) => {
      if (!isRole(opts.role)) throw new Error(`--role must be one of ${ROLES.join(', ')}, got ${opts.role}`);
      const ttlSeconds = Math.floor(parseDuration(opts.ttl) / 1000);
      if (ttlSeconds < 1) throw new Error(`--ttl must be at least 1s, got ${opts.ttl}`);
      if (!/^[A-Za-z0-9._@-]{1,64}$/.test(opts.name)) throw new Error(`--name must be 1 to 64 of A-Z a-z 0-9 . _ @ -, got ${opts.name}`);
      const created = await withFleetStore(command, async (fleet) => {
        const result = await fleet.createOperatorToken({ name: opts.name, role: opts.role, ttlSeconds, createdBy: localOperator() });
        await fleet.appendAudit({ actor: localOperator(), role: 'admin', action: 'token.create', target: `token:${result.record.id}`, result: 'ok', detail: { via: 'local', name: opts.name, role: opts.role, expiresAt: result.record.expiresAt.toISOString() } });
        return result;
      });
      printResult(opts, { ...created.record, token: created.token }, () => `${created.token}\n(token ${created.record.id}, role ${created.record.role}, expires ${created.record.expiresAt.toISOString()}; shown once: keep it in OTA_TOKEN or the credentials file)`);
    });
  token
    .command('list')
    .description('tokens with role, expiry and revocation (never the secret)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      const tokens = await withFleetStore(command, (fleet) => fleet.listOperatorTokens());
      const now = Date.now();
      printResult(opts, tokens, () =>
        tokens.length === 0
          ? 'no API tokens'
          : tokens.map((t) => `${t.id}  ${t.name.padEnd(16)} ${t.role.padEnd(16)} expires ${t.expiresAt.toISOString()}${t.revokedAt ? '  REVOKED' : t.expiresAt.getTime() <= now ? '  EXPIRED' : ''}`).join('\n'),
      );
    });
  token
    .command('revoke <id>')
    .description('the token is refused from now on (TOKEN_REVOKED)')
    .option('--reason <text>', 'why, for the audit log')
    .action(async (id: string, opts: { reason?: string }, command: Command) => {
      const revoked = await withFleetStore(command, async (fleet) => {
        const done = await fleet.revokeOperatorToken(id);
        await fleet.appendAudit({ actor: localOperator(), role: 'admin', action: 'token.revoke', target: `token:${id}`, reason: opts.reason ?? null, result: done ? 'ok' : 'refused', detail: { via: 'local' } });
        return done;
      });
      if (!revoked) throw new Error(`no unrevoked API token ${id}`);
      process.stdout.write(`revoked token ${id}\n`);
    });
}
