// Temporal over mutual TLS, the dev server (plaintext) behind a TLS terminator on loopback that requires
// a client certificate from the fleet CA:
// - stunnel4 (Debian): the client (Connection, grpc-js) connects with temporal.tls and runs the health
//   workflow; the worker's Rust core refuses it (stunnel 5.68 negotiates no ALPN, tonic wants h2).
// - a Node TLS front with ALPN h2: the worker (NativeConnection) and the client both over mTLS.
// A client without a certificate, or not trusting the server, is refused with one line naming the fix.
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWorker } from '../../activities/health.js';
import { createFleetCa } from '../../identity/fleet-ca.js';
import { issueDeviceCertificate, issueServerCertificate } from '../../identity/issue.js';
import type { TemporalConfig } from '../../schemas/config.js';
import { connectClient, TemporalUnavailableError } from '../../temporal/client.js';
import { createWorker } from '../../temporal/worker.js';
import { healthWorkflow } from '../../workflows/index.js';
import { ensureDist, OTA_BIN } from '../support/dist.js';
import { startTlsFront, stunnelPath } from '../support/stunnel.js';
import { startTemporal, TEST_NAMESPACE } from '../support/temporal.js';
import { startNodeTlsFront } from '../support/tls-front.js';

const run = promisify(execFile);
const noStunnel = stunnelPath() === undefined;
if (noStunnel) console.warn('SKIPPING the stunnel4 half of test/temporal/tls.test.ts: stunnel4 is not installed (apt-get install -y stunnel4; .ci/run installs it)');

const dir = mkdtempSync(join(tmpdir(), 'temporal-tls-'));
const file = (name: string, data: string) => (writeFileSync(join(dir, name), data, { mode: 0o600 }), join(dir, name));
const stops: Array<() => Promise<void>> = [];
let env: TestWorkflowEnvironment;
let pems: { root: string; certChain: string; key: string };
let tlsFiles: NonNullable<TemporalConfig['tls']>;

beforeAll(async () => {
  ({ env } = await startTemporal());
  stops.push(() => env.teardown());
  const ca = await createFleetCa({ name: 'Temporal test' });
  const server = await issueServerCertificate(ca, { dnsNames: ['temporal.fleet.test'] });
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const client = await issueDeviceCertificate(ca, { deviceId: 'ota-worker', publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString() });
  pems = { root: ca.root.certPem, certChain: server.chainPem, key: server.keyPem };
  tlsFiles = {
    serverCaPath: file('root.pem', ca.root.certPem),
    clientCertPath: file('client.pem', client.chainPem),
    clientKeyPath: file('client.key', privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()),
    // The fronts listen on 127.0.0.1; the certificate names temporal.fleet.test.
    serverName: 'temporal.fleet.test',
  };
});
afterAll(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

const at = (address: string, taskQueue: string, tls = tlsFiles): TemporalConfig => ({ address, namespace: TEST_NAMESPACE, taskQueue, tls });
const refusal = (cfg: TemporalConfig) => connectClient(cfg, { connectTimeoutMs: 2_000 }).then(() => undefined, (e: Error) => e);

async function runHealth(workerCfg: TemporalConfig, clientCfg: TemporalConfig): Promise<void> {
  const { worker, connection } = await createWorker(workerCfg, { describeWorker });
  const { client, close } = await connectClient(clientCfg);
  try {
    const result = await worker.runUntil(client.workflow.execute(healthWorkflow, { taskQueue: clientCfg.taskQueue, workflowId: `health-tls-${Date.now()}`, args: ['over tls'] }));
    expect(result).toMatchObject({ ok: true, echo: 'over tls', taskQueue: clientCfg.taskQueue });
    expect(result.worker.pid).toBe(process.pid);
  } finally {
    await close();
    await connection.close();
  }
}

describe('Node TLS front with ALPN h2', () => {
  let address: string;
  beforeAll(async () => {
    const front = await startNodeTlsFront(env.address, { certChain: pems.certChain, key: pems.key, clientCa: pems.root });
    stops.push(front.stop);
    address = front.address;
  });

  it('the worker (NativeConnection) and the client (Connection) connect with mTLS and run the health workflow', async () => {
    await runHealth(at(address, 'health-mtls'), at(address, 'health-mtls'));
  });

  it('`ota health --worker inline` (compiled CLI) reads the TLS settings from OTA_TEMPORAL_TLS_* and passes over mTLS', async (ctx) => {
    const skip = await ensureDist();
    if (skip) return (console.warn(`SKIPPING the ota health over mTLS check: ${skip}`), ctx.skip());
    const env = {
      ...process.env,
      OTA_STATE_DIR: join(dir, 'ota'),
      OTA_TEMPORAL_ADDRESS: address,
      OTA_TEMPORAL_NAMESPACE: TEST_NAMESPACE,
      OTA_TASK_QUEUE: 'health-cli-tls',
      OTA_TEMPORAL_TLS_CA: tlsFiles.serverCaPath!,
      OTA_TEMPORAL_TLS_CERT: tlsFiles.clientCertPath!,
      OTA_TEMPORAL_TLS_KEY: tlsFiles.clientKeyPath!,
      OTA_TEMPORAL_TLS_SERVER_NAME: tlsFiles.serverName!,
    };
    const { stdout } = await run(process.execPath, [OTA_BIN, 'health', '--worker', 'inline', '--json'], { env, timeout: 120_000 });
    expect(JSON.parse(stdout)).toMatchObject({ ok: true, taskQueue: 'health-cli-tls' });
    const refused = await run(process.execPath, [OTA_BIN, 'health', '--worker', 'inline'], { env: { ...env, OTA_TEMPORAL_TLS_CERT: '', OTA_TEMPORAL_TLS_KEY: '' }, timeout: 120_000 }).catch((e: { stderr: string }) => e);
    expect((refused as { stderr: string }).stderr).toBe(`ota: cannot connect to Temporal at ${address} over TLS: the server requires a client certificate: set temporal.tls.clientCertPath and clientKeyPath\n`);
  }, 240_000);

  it('a client without a certificate is refused with one line naming the fix', async () => {
    const { clientCertPath: _c, clientKeyPath: _k, ...serverOnly } = tlsFiles;
    const err = await refusal(at(address, 'x', serverOnly));
    expect(err).toBeInstanceOf(TemporalUnavailableError);
    expect(err!.message).toBe(`cannot connect to Temporal at ${address} over TLS: the server requires a client certificate: set temporal.tls.clientCertPath and clientKeyPath`);
  });

  it('so is the worker without a certificate, and a client that trusts another CA or dials a name the certificate lacks', async () => {
    const { clientCertPath: _c, clientKeyPath: _k, ...serverOnly } = tlsFiles;
    const workerErr = await createWorker(at(address, 'x', serverOnly), { describeWorker }).then(() => undefined, (e: Error) => e);
    expect(workerErr?.message).toMatch(/over TLS: the server requires a client certificate/);
    const other = await createFleetCa({ name: 'Other' });
    expect((await refusal(at(address, 'x', { ...tlsFiles, serverCaPath: file('other.pem', other.root.certPem) })))?.message).toMatch(/over TLS: the server certificate is not trusted: set temporal.tls.serverCaPath/);
    expect((await refusal(at(address, 'x', { ...tlsFiles, serverName: 'wrong.fleet.test' })))?.message).toMatch(/over TLS: the server certificate does not name this host/);
  });
});

describe.skipIf(noStunnel)('stunnel4 front (no ALPN)', () => {
  let address: string;
  beforeAll(async () => {
    const front = await startTlsFront(dir, env.address, { certChain: file('server-chain.pem', pems.certChain), key: file('server.key', pems.key), clientCa: tlsFiles.serverCaPath });
    stops.push(front.stop);
    address = front.address;
  });

  it('the client connects with mTLS through it and runs the health workflow (worker on the plain port)', async () => {
    await runHealth({ address: env.address, namespace: TEST_NAMESPACE, taskQueue: 'health-stunnel' }, at(address, 'health-stunnel'));
  });

  it('the worker refuses a TLS proxy that does not negotiate h2, and says so', async () => {
    const err = await createWorker(at(address, 'x'), { describeWorker }).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/over TLS: the TLS endpoint does not negotiate ALPN h2/);
  });

  it('a client without a certificate is refused in the handshake', async () => {
    const { clientCertPath: _c, clientKeyPath: _k, ...serverOnly } = tlsFiles;
    expect((await refusal(at(address, 'x', serverOnly)))?.message).toMatch(/over TLS: the server requires a client certificate/);
  });
});
