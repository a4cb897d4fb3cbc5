// How `ota` reports a failed command: one line on stderr, `ota: <what failed and why>`, with what to
// do (the message's own advice, or the dev stack's when a service it recorded does not answer), and
// a non-zero exit; the full error with its causes and stacks only under --verbose (or OTA_VERBOSE=1).
import { inspect } from 'node:util';
import { TemporalFailure, WorkflowFailedError } from '@temporalio/client';
import { readStackState, stackStateDir, stackStatePath, type StackState } from '../config/stack-state.js';
import { failureMessage } from '../temporal/failure-message.js';

/** Failures that mean a service did not answer (Temporal, the store, the fleet database, the operator API). */
const UNREACHABLE = /cannot reach|cannot connect|unavailable after|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|Failed to connect/;

export function isVerbose(argv: string[], env: NodeJS.ProcessEnv = process.env): boolean {
  return argv.includes('--verbose') || /^(1|true|yes)$/i.test(env.OTA_VERBOSE ?? '');
}

/** host:port of each service the stack state supplies (Temporal, S3, fleet database, operator API). */
function stackAddresses(state: StackState): string[] {
  const config = state.config as { temporal?: { address?: unknown }; store?: { endpoint?: unknown }; fleet?: { databaseUrl?: unknown } };
  const urls = [config.store?.endpoint, config.fleet?.databaseUrl, state.operatorApi?.url].filter((u): u is string => typeof u === 'string');
  const hosts = urls.flatMap((u) => {
    try {
      return [new URL(u).host];
    } catch {
      return [];
    }
  });
  return [...(typeof config.temporal?.address === 'string' ? [config.temporal.address] : []), ...hosts].filter(Boolean);
}

/** What to do when a service of the dev stack this command follows does not answer (not one set explicitly). */
function stackHint(why: string, env: NodeJS.ProcessEnv): string | undefined {
  try {
    const stateDir = stackStateDir(env);
    const state = readStackState(stateDir);
    if (!state || !stackAddresses(state).some((address) => why.includes(address))) return undefined;
    return `this command follows the dev stack recorded in ${stackStatePath(stateDir)}: \`ota dev status\` shows what runs, \`ota dev up --detach\` starts it again, \`ota dev down\` stops following it`;
  } catch {
    return undefined;
  }
}

export function failureReport(err: unknown, opts: { argv: string[]; env?: NodeJS.ProcessEnv; verbose?: boolean }): string {
  const env = opts.env ?? process.env;
  const verbose = opts.verbose ?? isVerbose(opts.argv, env);
  // Temporal nests the reason (WorkflowFailedError > ActivityFailure > ApplicationFailure): name the innermost.
  const temporal = err instanceof WorkflowFailedError || err instanceof TemporalFailure;
  const why = (temporal ? failureMessage(err) : err instanceof Error ? err.message : String(err)).trim() || 'unknown error';
  const hint = UNREACHABLE.test(why) ? stackHint(why, env) : undefined;
  const line = `ota: ${why}${hint ? `; ${hint}` : ''}`;
  return verbose ? `${line}\n${inspect(err, { depth: 8 })}` : line;
}
