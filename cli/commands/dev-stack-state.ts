// After `ota dev up`: record what clients of the stack need (config/stack-state.ts), with an admin
// API token for the stack's operator API, so every later `ota` command follows the running stack.
import { readStackState, removeStackState, stackStatePath, writeStackState, type StackState } from '../../config/stack-state.js';
import { API_SERVICE, CONFIG_SERVICE, operatorApiUrl, stackState } from '../../devstack/client-state.js';
import { openStack, type UpResult } from '../../devstack/stack.js';
import { forgetConsoleTokens, readConsoleTokens } from '../../devstack/console-tokens.js';
import { FleetStore } from '../../fleet/fleet-store.js';
import { localOperator } from './operator.js';

/** The services whose configuration the state carries: stopping one makes the state wrong. */
const CONFIG_SERVICES = ['temporal', 'artifacts', 'fleet-db', CONFIG_SERVICE];
const TOKEN_TTL_SECONDS = 30 * 24 * 3600;
const RUNNING = new Set(['started', 'already-running', 'embedded']);

/** Writes the state when the worker (and so what it needs) runs; the line to print, or undefined. */
export async function recordStackState(opts: { file: string; stateDir: string }, result: UpResult): Promise<string | undefined> {
  const running = new Set(result.outcomes.filter((o) => RUNNING.has(o.result)).map((o) => o.name));
  if (!running.has(CONFIG_SERVICE)) return undefined;
  const { stack } = openStack(opts);
  const url = running.has(API_SERVICE) ? operatorApiUrl(stack) : undefined;
  const previous = safeRead(opts.stateDir);
  let operatorApi: StackState['operatorApi'];
  let note = '';
  if (url) {
    const kept = previous?.operatorApi?.url === url && previous.operatorApi.token ? previous.operatorApi : undefined;
    if (kept) operatorApi = kept;
    else if (result.fleetDatabaseUrl?.startsWith('postgres')) {
      const fleet = await FleetStore.open(result.fleetDatabaseUrl);
      try {
        const created = await fleet.createOperatorToken({ name: 'dev-stack', role: 'admin', ttlSeconds: TOKEN_TTL_SECONDS, createdBy: localOperator() });
        await fleet.appendAudit({ actor: localOperator(), role: 'admin', action: 'token.create', target: `token:${created.record.id}`, result: 'ok', detail: { via: 'ota dev up', name: 'dev-stack', role: 'admin', expiresAt: created.record.expiresAt.toISOString() } });
        operatorApi = { url, token: created.token, tokenId: created.record.id };
      } finally {
        await fleet.close();
      }
    } else {
      // PGlite has one opener (the running services): no token from here; set OTA_TOKEN yourself.
      operatorApi = { url };
      note = ' (no token: the fleet database is embedded PGlite)';
    }
  }
  writeStackState(opts.stateDir, stackState(stack, result.fleetDatabaseUrl, operatorApi));
  return [
    `ota commands now use this stack (${stackStatePath(opts.stateDir)}); --config, OTA_* variables and --set still win`,
    ...(operatorApi ? [`operator API ${operatorApi.url}, console ${operatorApi.url}/console/, admin token for it in that file${note}`] : []),
  ].join('\n');
}

/** After stopping some services: forget the operator API, or the whole state when a service it names stopped. */
export function forgetStackServices(stateDir: string, stopped: string[]): void {
  if (stopped.some((name) => CONFIG_SERVICES.includes(name))) return removeStackState(stateDir);
  const state = safeRead(stateDir);
  if (state?.operatorApi && stopped.includes(API_SERVICE)) {
    const { operatorApi: _gone, ...rest } = state;
    writeStackState(stateDir, rest);
  }
}

function safeRead(stateDir: string): StackState | undefined {
  try {
    return readStackState(stateDir);
  } catch {
    return undefined; // a broken state is replaced
  }
}

/**
 * Before `ota dev down`: revoke the admin token `ota dev up` created and the console tokens of `ota dev
 * console`, while the fleet database still runs (its data outlives the stack; the tokens must not).
 * Best effort: a database already gone keeps nothing to do. Returns the lines to print.
 */
export async function revokeStackTokens(stateDir: string): Promise<string[]> {
  const state = safeRead(stateDir);
  const adminId = state?.operatorApi?.tokenId;
  const consoleIds = readConsoleTokens(stateDir);
  const url = (state?.config as { fleet?: { databaseUrl?: unknown } } | undefined)?.fleet?.databaseUrl;
  if ((!adminId && consoleIds.length === 0) || typeof url !== 'string' || !url.startsWith('postgres')) return [];
  const lines: string[] = [];
  try {
    const fleet = await FleetStore.open(url);
    try {
      const revoke = async (tokenId: string) => {
        const done = await fleet.revokeOperatorToken(tokenId);
        await fleet.appendAudit({ actor: localOperator(), role: 'admin', action: 'token.revoke', target: `token:${tokenId}`, reason: 'ota dev down', result: done ? 'ok' : 'refused', detail: { via: 'ota dev down' } });
        return done;
      };
      if (adminId && (await revoke(adminId))) lines.push(`revoked the stack's admin token ${adminId}`);
      let consoles = 0;
      for (const id of consoleIds) if (await revoke(id)) consoles++;
      if (consoles) lines.push(`revoked ${consoles} console token${consoles === 1 ? '' : 's'} of ota dev console`);
      forgetConsoleTokens(stateDir);
    } finally {
      await fleet.close();
    }
  } catch {
    /* the database is gone: nothing to revoke from here */
  }
  return lines;
}
