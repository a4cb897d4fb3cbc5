// `ota audit [--json] [--verify]`: the hash-chained audit log, from the fleet database on this host
// or through the operator API (--server). --verify walks the chain and names the first broken entry.
import type { Command } from 'commander';
import type { AuditEntry, AuditVerification } from '../../fleet/fleet-store.js';
import { callOperatorApi, withServerOption, type ServerOption } from '../operator-client.js';
import { withFleetStore } from '../context.js';
import { printResult } from '../output.js';

function line(e: AuditEntry): string {
  const outcome = e.result === 'ok' ? 'ok' : `${e.result}${typeof e.detail.code === 'string' ? ` ${e.detail.code}` : ''}`;
  return `#${String(e.seq).padEnd(5)} ${e.at}  ${e.actor} (${e.role})  ${e.action} ${e.target}  ${outcome}${e.reason ? `  "${e.reason}"` : ''}`;
}

export function registerAuditCommand(program: Command): void {
  withServerOption(
    program
      .command('audit')
      .description('operator actions and rollout decisions, oldest first, each chained to the one before by its hash')
      .option('--verify', 'walk the chain: exits 1 and names the first entry that does not hold')
      .option('--target <target>', 'only entries about this rollout, device, release or token')
      .option('--after <seq>', 'entries after this sequence number')
      .option('--limit <n>', 'at most this many entries', '500')
      .option('--json', 'print JSON'),
  ).action(async (opts: ServerOption & { verify?: boolean; target?: string; after?: string; limit: string; json?: boolean }, command: Command) => {
    const query = { target: opts.target, after: opts.after === undefined ? undefined : Number(opts.after), limit: Number(opts.limit) };
    if (opts.verify) {
      const result = opts.server ? await callOperatorApi<AuditVerification>(opts.server, 'GET', '/v1/audit/verify') : await withFleetStore(command, (f) => f.verifyAuditChain());
      printResult(opts, result, () => (result.ok ? `audit chain intact: ${result.entries} entries` : `audit chain BROKEN at entry #${result.firstBroken!.seq}: ${result.firstBroken!.problem}`));
      if (!result.ok) process.exitCode = 1;
      return;
    }
    const search = new URLSearchParams(Object.entries(query).flatMap(([k, v]) => (v === undefined ? [] : [[k, String(v)] as [string, string]])));
    const entries = opts.server ? (await callOperatorApi<{ entries: AuditEntry[] }>(opts.server, 'GET', `/v1/audit?${search}`)).entries : await withFleetStore(command, (f) => f.listAudit(query));
    printResult(opts, entries, () => (entries.length === 0 ? 'no audit entries' : entries.map(line).join('\n')));
  });
}
