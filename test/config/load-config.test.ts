// Configuration layering and validation: defaults < file < env < --set, with errors that
// name the field, the reason and the layer that set it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config/load-config.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'ota-config-'));
}

describe('loadConfig', () => {
  it('gives the embedded local stack by default', () => {
    const dir = tempDir();
    const cfg = loadConfig({ env: { OTA_STATE_DIR: dir }, cwd: dir });
    expect(cfg.temporal).toEqual({ address: '127.0.0.1:7233', namespace: 'ota', taskQueue: 'ota-releases' });
    expect(cfg.store).toEqual({ kind: 'local', dir: join(dir, 'artifacts') });
    expect(cfg.signing.mode).toBe('key');
    expect(cfg.fleet.databaseUrl).toBe(`pglite:${join(dir, 'fleet')}`);
  });

  it('applies file, then env, then --set, and resolves paths against the file', () => {
    const dir = tempDir();
    const file = join(dir, 'ota.config.yml');
    writeFileSync(
      file,
      ['temporal:', '  address: temporal.lan:7233', '  namespace: fleet', 'store:', '  kind: local', '  dir: ./blobs', 'signing:', '  keyPath: keys/k.pem'].join('\n'),
    );
    const cfg = loadConfig({
      cwd: '/',
      file,
      env: { OTA_STATE_DIR: dir, OTA_TEMPORAL_NAMESPACE: 'from-env', OTA_TASK_QUEUE: 'q-env' },
      overrides: ['temporal.taskQueue=q-flag'],
    });
    expect(cfg.temporal).toEqual({ address: 'temporal.lan:7233', namespace: 'from-env', taskQueue: 'q-flag' });
    expect(cfg.store).toEqual({ kind: 'local', dir: join(dir, 'blobs') });
    expect(cfg.signing.keyPath).toBe(join(dir, 'keys/k.pem'));
    expect(cfg.sources['temporal.address']).toBe(`file ${file}`);
    expect(cfg.sources['temporal.namespace']).toBe('env OTA_TEMPORAL_NAMESPACE');
    expect(cfg.sources['temporal.taskQueue']).toBe('flag --set');
  });

  it('switches the store to S3 from OTA_STORE without keeping local fields', () => {
    const dir = tempDir();
    const cfg = loadConfig({
      cwd: dir,
      env: { OTA_STATE_DIR: dir, OTA_STORE: 's3://fw-releases/prod', OTA_S3_ENDPOINT: 'http://127.0.0.1:7070', OTA_S3_FORCE_PATH_STYLE: 'true' },
    });
    expect(cfg.store).toEqual({
      kind: 's3',
      bucket: 'fw-releases',
      prefix: 'prod',
      endpoint: 'http://127.0.0.1:7070',
      forcePathStyle: true,
      region: 'us-east-1',
      maxAttempts: 3,
    });
  });

  it('names the field, reason and source of a bad value', () => {
    const dir = tempDir();
    const err = (() => {
      try {
        loadConfig({ cwd: dir, env: { OTA_STATE_DIR: dir, OTA_TEMPORAL_ADDRESS: 'no-port-here' } });
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.message).toMatch(/temporal\.address: must be host:port \(got "no-port-here"\) \[from env OTA_TEMPORAL_ADDRESS\]/);
  });

  it('refuses unknown fields and bad enums from a file', () => {
    const dir = tempDir();
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ signing: { mode: 'magic' }, temporal: { adress: 'x:1' } }));
    expect(() => loadConfig({ cwd: dir, file, env: { OTA_STATE_DIR: dir } })).toThrow(/signing\.mode: .*"key".*"keyless"/s);
    expect(() => loadConfig({ cwd: dir, file, env: { OTA_STATE_DIR: dir } })).toThrow(/adress/);
  });

  it('reads the drift policy; quarantineOn needs the attestation policy that enforces it; unknown kinds are refused', () => {
    const dir = tempDir();
    const file = join(dir, 'd.json');
    writeFileSync(file, JSON.stringify({ gateway: { attestation: {}, drift: { quarantineOn: ['unknown-listening-port'] } } }));
    expect(loadConfig({ cwd: dir, file, env: { OTA_STATE_DIR: dir } }).gateway.drift).toEqual({ quarantineOn: ['unknown-listening-port'], remediation: 'last-good' });
    writeFileSync(file, JSON.stringify({ gateway: { drift: { quarantineOn: ['unknown-listening-port'] } } }));
    expect(() => loadConfig({ cwd: dir, file, env: { OTA_STATE_DIR: dir } })).toThrow(/gateway\.drift\.quarantineOn: quarantine is enforced at check-in by the attestation policy/);
    writeFileSync(file, JSON.stringify({ gateway: { attestation: {}, drift: { quarantineOn: ['open-port'] } } }));
    expect(() => loadConfig({ cwd: dir, file, env: { OTA_STATE_DIR: dir } })).toThrow(/gateway\.drift\.quarantineOn\.0/);
  });

  it('reports a missing explicit file and unparsable YAML', () => {
    const dir = tempDir();
    expect(() => loadConfig({ cwd: dir, file: 'nope.yml', env: {} })).toThrow(/does not exist/);
    const bad = join(dir, 'bad.yml');
    writeFileSync(bad, 'temporal:\n  address: [unclosed\n');
    expect(() => loadConfig({ cwd: dir, file: bad, env: {} })).toThrow(/cannot parse/);
  });

  it('reads Temporal TLS and the API key from the file and OTA_TEMPORAL_* env, paths against the file', () => {
    const dir = tempDir();
    const file = join(dir, 'ota.config.yml');
    writeFileSync(file, ['temporal:', '  tls:', '    serverCaPath: tls/ca.pem', '    serverName: temporal.lan'].join('\n'));
    const cfg = loadConfig({ cwd: '/', file, env: { OTA_STATE_DIR: dir, OTA_TEMPORAL_TLS_CERT: 'c.pem', OTA_TEMPORAL_TLS_KEY: '/k.pem', OTA_TEMPORAL_API_KEY: 'secret' } });
    expect(cfg.temporal.tls).toEqual({ serverCaPath: join(dir, 'tls/ca.pem'), serverName: 'temporal.lan', clientCertPath: '/c.pem', clientKeyPath: '/k.pem' });
    expect(cfg.temporal.apiKey).toBe('secret');
    expect(cfg.sources['temporal.tls.clientCertPath']).toBe('env OTA_TEMPORAL_TLS_CERT');
    const bare = tempDir();
    expect(loadConfig({ cwd: bare, env: { OTA_STATE_DIR: bare, OTA_TEMPORAL_TLS: 'true' } }).temporal.tls).toEqual({});
    expect(loadConfig({ cwd: bare, env: { OTA_STATE_DIR: bare } }).identity.caDir).toBe(join(bare, 'ca'));
    expect(() => loadConfig({ cwd: bare, env: { OTA_STATE_DIR: bare, OTA_TEMPORAL_TLS_CERT: '/c.pem' } })).toThrow(
      /temporal\.tls\.clientKeyPath: mutual TLS needs both clientCertPath and clientKeyPath/,
    );
  });

  it('rejects malformed --set flags', () => {
    expect(() => loadConfig({ env: {}, overrides: ['novalue'] })).toThrow(/PATH=VALUE/);
  });
});
