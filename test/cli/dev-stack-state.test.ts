// When `ota dev up` records the stack for its clients, and when stopping services forgets it: only a
// stack whose worker runs is followed; the operator API goes when it stops; the rest goes with any
// service whose address the state carries.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readStackState, stackStatePath } from '../../config/stack-state.js';
import { forgetStackServices, recordStackState, revokeStackTokens } from '../../cli/commands/dev-stack-state.js';
import type { StartOutcome, UpResult } from '../../devstack/stack.js';
import { projectRoot } from '../../platform/paths.js';

const file = join(projectRoot, 'temporal-dev.yml');

function up(running: string[], fleetDatabaseUrl?: string): UpResult {
  const outcomes: StartOutcome[] = ['temporal', 'artifacts', 'fleet-db', 'worker', 'gateway', 'api'].map((name) => ({
    name,
    result: running.includes(name) ? 'started' : 'skipped',
    urls: {},
    log: '',
  }));
  return { outcomes, spawned: running, children: new Map(), ok: true, interrupted: false, fleetDatabaseUrl };
}

describe('the stack state ota dev up records', () => {
  it('is not written while the worker does not run (e.g. `ota dev up temporal`)', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'ota-devstate-'));
    expect(await recordStackState({ file, stateDir }, up(['temporal']))).toBeUndefined();
    expect(existsSync(stackStatePath(stateDir))).toBe(false);
  });

  it('names the operator API; with embedded PGlite it holds no token and says so', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'ota-devstate-'));
    const line = await recordStackState({ file, stateDir }, up(['temporal', 'artifacts', 'fleet-db', 'worker', 'gateway', 'api'], `pglite:${join(stateDir, 'fleet')}`));
    expect(line).toContain(`ota commands now use this stack (${stackStatePath(stateDir)})`);
    expect(line).toContain('(no token: the fleet database is embedded PGlite)');
    const state = readStackState(stateDir)!;
    expect(state.operatorApi).toEqual({ url: 'http://127.0.0.1:8470' });
    expect(state.config).toMatchObject({ temporal: { address: '127.0.0.1:7233' }, fleet: { databaseUrl: `pglite:${join(stateDir, 'fleet')}` } });
    // Nothing to revoke: no token was made.
    expect(await revokeStackTokens(stateDir)).toEqual([]);
  });

  it('is forgotten in part when the API stops, entirely when a service it names stops, untouched by the gateway', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'ota-devstate-'));
    await recordStackState({ file, stateDir }, up(['temporal', 'artifacts', 'fleet-db', 'worker', 'api'], 'pglite:/x'));
    forgetStackServices(stateDir, ['gateway']);
    expect(readStackState(stateDir)?.operatorApi?.url).toBe('http://127.0.0.1:8470');
    forgetStackServices(stateDir, ['api']);
    expect(readStackState(stateDir)).toMatchObject({ version: 1 });
    expect(readStackState(stateDir)?.operatorApi).toBeUndefined();
    forgetStackServices(stateDir, ['artifacts']);
    expect(readStackState(stateDir)).toBeUndefined();
  });
});
