// How `ota` reports a failed command: one line on stderr, `ota: <what failed and why>`, with what to
// do (the message's own advice, or the dev stack's when a service it recorded does not answer), and
// a non-zero exit; the full error with its causes and stacks only under --verbose (or OTA_VERBOSE=1).
import { inspect } from 'node:util';
import { TemporalFailure, WorkflowFailedError } from '@temporalio/client';
import { readStackState, stackStateDir, stackStatePath } from '../config/stack-state.js';
import { failureMessage } from '../temporal/failure-message.js';

/** Failures that mean a service did not answer (Temporal, the store, the fleet database, the operator API). */
const UNREACHABLE = /cannot reach|cannot connect|unavailable after|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|Failed to connect/;

export function isVerbose(argv: string[], env: NodeJS.ProcessEnv = process.env): boolean {
  return argv.includes('--verbose') || /^(1|true|yes)$/i.test(env.OTA_VERBOSE ?? '');
}

/** What to do when a service of the dev stack this command follows does not answer. */
function stackHint(env: NodeJS.ProcessEnv): string | undefined {
  try {
    const stateDir = stackStateDir(env);
    if (!readStackState(stateDir)) return undefined;
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
  const hint = UNREACHABLE.test(why) ? stackHint(env) : undefined;
  const line = `ota: ${why}${hint ? `; ${hint}` : ''}`;
  return verbose ? `${line}\n${inspect(err, { depth: 8 })}` : line;
}
