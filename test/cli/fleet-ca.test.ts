// `ota fleet ca` through the compiled CLI: init (modes, refusal to overwrite, --force), show (fingerprints
// as openssl prints them), server-cert (first use creates the CA; Node's https serves the files) and
// device-cert from an openssl CSR.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, statSync } from 'node:fs';
import { createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../platform/free-port.js';
import { ensureDist, OTA_BIN } from '../support/dist.js';
import { opensslVerify } from '../support/openssl.js';

const run = promisify(execFile);

function httpsGet(url: string, ca: string, servername?: string): Promise<string> {
  return new Promise((resolve, reject) =>
    request(url, { ca, servername, agent: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c)).on('end', () => resolve(text));
    })
      .on('error', reject)
      .end(),
  );
}
const mode = (path: string) => statSync(path).mode & 0o777;

// Each `ota` run loads the whole CLI: seconds apiece on a loaded machine.
describe('ota fleet ca', { timeout: 180_000 }, () => {
  let skipReason: string | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'fleet-ca-cli-'));
  const ota = (stateDir: string, ...args: string[]) =>
    run(process.execPath, [OTA_BIN, ...args], { env: { ...process.env, OTA_STATE_DIR: stateDir }, timeout: 60_000 }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
    );

  beforeAll(async () => {
    skipReason = await ensureDist();
    if (skipReason) console.error(`\n*** SKIPPING ota fleet ca CLI test: ${skipReason} ***\n`);
  }, 200_000);

  it('init writes the CA 0600 in a 0700 folder, refuses to overwrite in one line, replaces with --force', async (ctx) => {
    if (skipReason) return ctx.skip();
    const state = join(dir, 'init');
    const first = await ota(state, 'fleet', 'ca', 'init', '--json');
    expect(first).toMatchObject({ code: 0, stderr: '' });
    const shown = JSON.parse(first.stdout) as { dir: string; root: { subject: string; keyOnThisMachine: boolean }; files: Record<string, string> };
    expect(shown.dir).toBe(join(state, 'ca'));
    expect(shown.root).toMatchObject({ subject: 'CN=edge-ota Fleet Root CA', keyOnThisMachine: true });
    expect(mode(shown.dir)).toBe(0o700);
    for (const file of Object.values(shown.files)) expect(mode(file)).toBe(0o600);
    const again = await ota(state, 'fleet', 'ca', 'init');
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`ota: a fleet CA already exists in ${shown.dir}; refusing to overwrite it (--force replaces it, and every certificate it issued stops being trusted)\n`);
    const forced = await ota(state, 'fleet', 'ca', 'init', '--force', '--json');
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.stdout).root.fingerprintSha256).not.toBe((shown.root as { fingerprintSha256?: string }).fingerprintSha256);
  });

  it('show prints subjects, fingerprints (as openssl has them) and expiry; a missing CA is one line; renew-intermediate', async (ctx) => {
    if (skipReason) return ctx.skip();
    const state = join(dir, 'show');
    expect(await ota(state, 'fleet', 'ca', 'show')).toMatchObject({ code: 1, stderr: expect.stringMatching(/^ota: no usable fleet CA in .*create one with `ota fleet ca init`\)\n$/) });
    await ota(state, 'fleet', 'ca', 'init');
    const human = await ota(state, 'fleet', 'ca', 'show');
    const fingerprint = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', join(state, 'ca', 'root.crt.pem')], { encoding: 'utf8' }).trim().split('=')[1];
    expect(human.stdout).toContain(`sha256 ${fingerprint}`);
    expect(human.stdout).toMatch(/^root\s+CN=edge-ota Fleet Root CA\s+expires 20\d\d-.*\(key on this machine: move it offline\)$/m);
    expect(human.stdout).toMatch(/^intermediate\s+CN=edge-ota Fleet Issuing CA\s+expires/m);
    // Renewing needs the root key; with it moved offline, --root-key brings it back for the one command.
    const offline = join(dir, 'root-offline.key.pem');
    renameSync(join(state, 'ca', 'root.key.pem'), offline);
    expect((await ota(state, 'fleet', 'ca', 'renew-intermediate')).stderr).toMatch(/^ota: the root key is not in .* \(moved offline\?\): bring it back with --root-key FILE\n$/);
    const before = readFileSync(join(state, 'ca', 'intermediate.crt.pem'), 'utf8');
    expect((await ota(state, 'fleet', 'ca', 'renew-intermediate', '--root-key', offline)).code).toBe(0);
    expect(readFileSync(join(state, 'ca', 'intermediate.crt.pem'), 'utf8')).not.toBe(before);
    expect(mode(join(state, 'ca', 'intermediate.key.pem'))).toBe(0o600);
    const json = JSON.parse((await ota(state, 'fleet', 'ca', 'show', '--json')).stdout);
    expect(json.root.keyOnThisMachine).toBe(false);
    expect(json.intermediate.issuer).toBe('CN=edge-ota Fleet Root CA');
    expect(Date.parse(json.intermediate.notAfter) - Date.now()).toBeGreaterThan(2 * 365 * 86_400_000);
  });

  it('server-cert creates the CA on first use and writes files Node https and `ota gateway --tls-cert` serve, trusted with only the root', async (ctx) => {
    if (skipReason) return ctx.skip();
    const state = join(dir, 'server');
    const out = join(dir, 'gateway-tls');
    const issued = await ota(state, 'fleet', 'ca', 'server-cert', '--dns', 'gateway.fleet.test', '--ip', '127.0.0.1', '--out', out);
    expect(issued.code).toBe(0);
    expect(issued.stderr).toBe(`created a fleet CA in ${join(state, 'ca')} (first use)\n`);
    expect(issued.stdout).toMatch(/^server certificate [0-9a-f]+ for gateway\.fleet\.test, 127\.0\.0\.1, expires/);
    expect(mode(out)).toBe(0o700);
    expect(mode(join(out, 'server.key.pem'))).toBe(0o600);
    const [key, chain, root] = ['server.key.pem', 'server.chain.pem', 'root.crt.pem'].map((f) => readFileSync(join(out, f), 'utf8'));
    const [leaf, intermediate] = chain!.split(/(?<=-----END CERTIFICATE-----\n)/);
    expect(opensslVerify(dir, { root: root!, intermediate: intermediate!, leaf: leaf! }, 'sslserver').status).toBe(0);
    const server = createServer({ key, cert: chain }, (_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      expect(await httpsGet(`https://127.0.0.1:${(server.address() as AddressInfo).port}/`, root!, 'gateway.fleet.test')).toBe('ok');
    } finally {
      server.close();
    }
    // The same files on `ota gateway --tls-cert --tls-key`: HTTPS instead of plain HTTP.
    const port = await freePort();
    const gateway = spawn(process.execPath, [OTA_BIN, 'gateway', '--port', String(port), '--tls-cert', join(out, 'server.chain.pem'), '--tls-key', join(out, 'server.key.pem')], {
      env: { ...process.env, OTA_STATE_DIR: state },
      stdio: 'ignore',
    });
    try {
      const url = `https://127.0.0.1:${port}`;
      // Up once it answers (PGlite opens first); a generous deadline for a loaded machine.
      for (const until = Date.now() + 90_000; Date.now() < until && gateway.exitCode === null; await new Promise((r) => setTimeout(r, 250))) {
        if (await httpsGet(`${url}/healthz`, root!).then(() => true, () => false)) break;
      }
      expect(JSON.parse(await httpsGet(`${url}/healthz`, root!))).toMatchObject({ status: 'ok' });
    } finally {
      const exited = new Promise((resolve) => (gateway.exitCode !== null ? resolve(null) : gateway.once('exit', resolve)));
      gateway.kill('SIGTERM');
      await exited;
    }
    expect((await ota(state, 'fleet', 'ca', 'server-cert', '--out', out)).stderr).toBe('ota: a server certificate needs at least one DNS name or IP address devices dial\n');
  });

  it('device-cert issues a 24 h clientAuth certificate from an openssl CSR', async (ctx) => {
    if (skipReason) return ctx.skip();
    const state = join(dir, 'device');
    const csr = join(dir, 'device.csr');
    execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'device.key'), '-subj', '/CN=x', '-out', csr]);
    const out = join(dir, 'device.chain.pem');
    const issued = await ota(state, 'fleet', 'ca', 'device-cert', '--device', 'dev-9', '--csr', csr, '--out', out, '--json');
    expect(issued.code).toBe(0);
    const result = JSON.parse(issued.stdout) as { deviceId: string; notAfter: string };
    expect(result.deviceId).toBe('dev-9');
    expect(Math.round((Date.parse(result.notAfter) - Date.now()) / 3_600_000)).toBe(24);
    const [leaf] = readFileSync(out, 'utf8').split(/(?<=-----END CERTIFICATE-----\n)/);
    const ca = join(state, 'ca');
    const pems = { root: readFileSync(join(ca, 'root.crt.pem'), 'utf8'), intermediate: readFileSync(join(ca, 'intermediate.crt.pem'), 'utf8'), leaf: leaf! };
    expect(opensslVerify(dir, pems, 'sslclient').status).toBe(0);
    expect(execFileSync('openssl', ['x509', '-noout', '-ext', 'subjectAltName'], { input: leaf, encoding: 'utf8' })).toContain('URI:urn:edge-ota:device:dev-9');
  });
});
