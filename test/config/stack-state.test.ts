// The running dev stack as a configuration layer: above the defaults, below every explicit layer;
// what it supplies is exactly what the stack's worker runs with; a broken state file is a clear error.
import { mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENV_BINDINGS } from '../../config/env-bindings.js';
import { ConfigError, loadConfig } from '../../config/load-config.js';
import { readStackState, removeStackState, stackStatePath, writeStackState, type StackState } from '../../config/stack-state.js';
import { clientConfig, operatorApiUrl, stackState } from '../../devstack/client-state.js';
import { loadStackFile } from '../../devstack/stackFile.js';
import { projectRoot } from '../../platform/paths.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'ota-stack-state-'));
}

const PORTS = { OTA_TEMPORAL_PORT: '17233', OTA_S3_PORT: '17070', OTA_FLEET_DB_PORT: '15432', OTA_API_PORT: '18470' };
const FLEET_URL = 'postgres://ota@127.0.0.1:15432/fleet';

function realStack(stateDir: string) {
  return loadStackFile(join(projectRoot, 'temporal-dev.yml'), { ...PORTS, OTA_STATE_DIR: stateDir });
}

function withState(state?: Partial<StackState>): { dir: string; state: StackState } {
  const dir = tempDir();
  const full = { ...stackState(realStack(dir), FLEET_URL, { url: 'http://127.0.0.1:18470', token: 'ota_x_y', tokenId: 'x' }), ...state };
  writeStackState(dir, full);
  return { dir, state: full };
}

describe('the dev stack state', () => {
  it('is what the stack file gives its worker: Temporal, the S3 bucket and keys, the fleet database, and the operator API', () => {
    const dir = tempDir();
    const stack = realStack(dir);
    expect(clientConfig(stack, FLEET_URL)).toEqual({
      temporal: { address: '127.0.0.1:17233', namespace: 'ota' },
      store: { kind: 's3', bucket: 'ota-artifacts', prefix: '', endpoint: 'http://127.0.0.1:17070', forcePathStyle: true, credentials: { accessKeyId: 'otadev', secretAccessKey: 'otadevsecret' } },
      fleet: { databaseUrl: FLEET_URL },
    });
    expect(operatorApiUrl(stack)).toBe('http://127.0.0.1:18470');

    // The same configuration the worker loads from its environment (the layer under test replaces env).
    const worker = stack.services.get('worker')!.native.environment;
    const asWorker = loadConfig({ env: { ...worker, OTA_STATE_DIR: dir, OTA_FLEET_DATABASE_URL: FLEET_URL }, cwd: dir, ignoreStack: true });
    writeStackState(dir, stackState(stack, FLEET_URL));
    const asClient = loadConfig({ env: { OTA_STATE_DIR: dir }, cwd: dir });
    expect({ ...asClient.store, credentials: undefined }).toEqual({ ...asWorker.store, credentials: undefined });
    expect(asClient.temporal).toEqual(asWorker.temporal);
    expect(asClient.fleet).toEqual(asWorker.fleet);
    // Every variable of the worker's that configures us is carried (none forgotten).
    expect(Object.keys(worker).filter((name) => name in ENV_BINDINGS).sort()).toEqual(['OTA_S3_ENDPOINT', 'OTA_S3_FORCE_PATH_STYLE', 'OTA_STORE', 'OTA_TEMPORAL_ADDRESS', 'OTA_TEMPORAL_NAMESPACE']);
  });

  it('is written owner-only and read back; removing it is final', () => {
    const { dir, state } = withState();
    expect(statSync(stackStatePath(dir)).mode & 0o777).toBe(0o600);
    expect(readStackState(dir)).toEqual(state);
    removeStackState(dir);
    expect(readStackState(dir)).toBeUndefined();
  });

  it('is the layer above the defaults: commands follow the stack, and say so', () => {
    const { dir } = withState();
    const cfg = loadConfig({ env: { OTA_STATE_DIR: dir }, cwd: dir });
    expect(cfg.temporal.address).toBe('127.0.0.1:17233');
    expect(cfg.store).toMatchObject({ kind: 's3', bucket: 'ota-artifacts', endpoint: 'http://127.0.0.1:17070', credentials: { accessKeyId: 'otadev' } });
    expect(cfg.fleet.databaseUrl).toBe(FLEET_URL);
    expect(cfg.sources['temporal.address']).toBe(`dev stack ${stackStatePath(dir)}`);
    // The state directory's own defaults are untouched (keys stay where the stack's worker finds them).
    expect(cfg.signing.keyPath).toBe(join(dir, 'keys', 'release-signing.pem'));
    // The local store's folder is not inherited into the S3 section, in the values or the sources.
    expect(cfg.sources['store.dir']).toBeUndefined();
  });

  it('loses to every explicit layer: config file, OTA_* variables and --set', () => {
    const { dir } = withState();
    writeFileSync(join(dir, 'ota.config.yml'), 'temporal:\n  namespace: from-file\n');
    const cfg = loadConfig({ env: { OTA_STATE_DIR: dir, OTA_STORE: join(dir, 'blobs') }, cwd: dir, overrides: ['temporal.address=10.0.0.5:7233'] });
    expect(cfg.temporal).toMatchObject({ address: '10.0.0.5:7233', namespace: 'from-file' });
    expect(cfg.sources['temporal.address']).toBe('flag --set');
    // A store of another kind takes nothing of the stack's S3 section (no endpoint, no keys).
    expect(cfg.store).toEqual({ kind: 'local', dir: join(dir, 'blobs') });
    expect(cfg.sources['store.credentials.accessKeyId']).toBeUndefined();
    expect(cfg.fleet.databaseUrl).toBe(FLEET_URL); // nothing explicit said otherwise
    expect(loadConfig({ env: { OTA_STATE_DIR: dir }, cwd: dir, ignoreStack: true }).temporal.address).toBe('127.0.0.1:7233');
  });

  it('refuses a broken, foreign or oversized state file with one clear error naming it', () => {
    const cases: Array<[string, string | Buffer]> = [
      ['not JSON', '{"version": 1,'],
      ['wrong shape', JSON.stringify({ version: 2, config: {} })],
      ['oversized', Buffer.alloc(70 * 1024, 0x20)],
    ];
    for (const [label, content] of cases) {
      const dir = tempDir();
      mkdirSync(join(dir, 'dev'));
      writeFileSync(stackStatePath(dir), content);
      let error: unknown;
      try {
        loadConfig({ env: { OTA_STATE_DIR: dir }, cwd: dir });
      } catch (err) {
        error = err;
      }
      expect(error, label).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems, label).toEqual([expect.stringMatching(new RegExp(`^${stackStatePath(dir).replace(/[.]/g, '\\.')}: .*; run \`ota dev down\` or remove it$`))]);
    }
  });

  it('refuses a stack value that is wrong, naming the state file as its source', () => {
    const { dir } = withState({ config: { temporal: { address: 'no-port' } } });
    expect(() => loadConfig({ env: { OTA_STATE_DIR: dir }, cwd: dir })).toThrow(`temporal.address: must be host:port (got "no-port") [from dev stack ${stackStatePath(dir)}]`);
  });
});
