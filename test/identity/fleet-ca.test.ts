// The fleet CA: certificates checked from outside (openssl verify / x509 -text), file modes, our chain
// verifier's coded refusals, and CSR / public-key device certificates.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caPaths, loadOrCreateFleetCa, readFleetCa, writeFleetCa } from '../../identity/ca-files.js';
import { createFleetCa, renewIntermediate, type FleetCa } from '../../identity/fleet-ca.js';
import { deviceUri, issueDeviceCertificate, issueServerCertificate, verifyDeviceCsr } from '../../identity/issue.js';
import { verifyChain } from '../../identity/verify-chain.js';
import { x509 } from '../../identity/x509.js';
import { certText, opensslVerify } from '../support/openssl.js';

let dir: string;
let ca: FleetCa;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleet-ca-'));
  ca = await createFleetCa();
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const mode = (path: string) => statSync(path).mode & 0o777;
const codeOf = (promise: Promise<unknown>) => promise.then(() => 'accepted', (err: { code?: string }) => err.code ?? String(err));

describe('fleet CA', () => {
  it('an offline root and a path-length-0 issuing intermediate, as openssl reads them', () => {
    const root = certText(ca.root.certPem);
    expect(root).toMatch(/CA:TRUE/);
    expect(root).toMatch(/Certificate Sign, CRL Sign/);
    expect(root).toMatch(/ASN1 OID: prime256v1/);
    const inter = certText(ca.intermediate.certPem);
    expect(inter).toMatch(/CA:TRUE, pathlen:0/);
    expect(inter).toMatch(/Certificate Sign, CRL Sign/);
    expect(inter).toMatch(/Issuer: CN = edge-ota Fleet Root CA/);
    expect(inter).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
  });

  it('writes keys and certificates 0600 in a 0700 folder, refuses to overwrite without force', async () => {
    const caDir = join(dir, 'ca');
    await writeFleetCa(caDir, ca);
    expect(mode(caDir)).toBe(0o700);
    const files = await readdir(caDir);
    expect(files.sort()).toEqual(['intermediate.crt.pem', 'intermediate.key.pem', 'root.crt.pem', 'root.key.pem']);
    for (const f of files) expect(mode(join(caDir, f))).toBe(0o600);
    expect(await codeOf(writeFleetCa(caDir, await createFleetCa()))).toBe('CA_EXISTS');
    // An existing folder others can read is refused, not silently re-moded.
    const shared = join(dir, 'shared');
    await mkdir(shared, { mode: 0o755 });
    await chmod(shared, 0o755);
    expect(await codeOf(writeFleetCa(shared, ca))).toBe('CA_FOLDER_NOT_PRIVATE');
    expect(mode(shared)).toBe(0o755);
    expect((await readFleetCa(caDir)).root.certPem).toBe(ca.root.certPem);
    const other = await createFleetCa();
    await writeFleetCa(caDir, other, { force: true });
    expect((await readFleetCa(caDir)).root.certPem).toBe(other.root.certPem);
  });

  it('is created on first use and read back after; works with the root key moved offline', async () => {
    const caDir = join(dir, 'first-use');
    const first = await loadOrCreateFleetCa(caDir);
    const again = await loadOrCreateFleetCa(caDir);
    expect([first.created, again.created]).toEqual([true, false]);
    expect(again.intermediate.certPem).toBe(first.intermediate.certPem);
    await rm(caPaths(caDir).rootKey);
    const offline = await readFleetCa(caDir);
    expect(offline.root.keyPem).toBeUndefined();
    const server = await issueServerCertificate(offline, { dnsNames: ['gw.example'] });
    await expect(verifyChain({ leafPem: server.certPem, intermediatePem: offline.intermediate.certPem, rootPem: offline.root.certPem, purpose: 'serverAuth' })).resolves.toBeTruthy();
    await rm(caPaths(caDir).intermediateKey);
    expect(await codeOf(readFleetCa(caDir))).toBe('CA_MISSING');
  });
});

describe('server certificates', () => {
  it('carry the DNS names and IPs given, serverAuth, 30 days; openssl verifies the chain', async () => {
    const now = new Date();
    const server = await issueServerCertificate(ca, { dnsNames: ['gateway.fleet.test', 'localhost'], ipAddresses: ['127.0.0.1', '::1'], now });
    const text = certText(server.certPem);
    expect(text).toMatch(/DNS:gateway.fleet.test, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1/);
    expect(text).toMatch(/TLS Web Server Authentication/);
    expect(text).toMatch(/CA:FALSE/);
    expect(Math.round((server.notAfter.getTime() - now.getTime()) / 86_400_000)).toBe(30);
    const pems = { root: ca.root.certPem, intermediate: ca.intermediate.certPem, leaf: server.certPem };
    expect(opensslVerify(dir, pems, 'sslserver')).toMatchObject({ status: 0 });
    // The wrong purpose: openssl refuses a server certificate as a client one.
    expect(opensslVerify(dir, pems, 'sslclient').status).not.toBe(0);
    expect(execFileSync('openssl', ['pkey', '-noout', '-text'], { input: server.keyPem, encoding: 'utf8' })).toMatch(/prime256v1/);
  });

  it('refuses requests without a name, or with a bad one', async () => {
    expect(await codeOf(issueServerCertificate(ca, {}))).toBe('BAD_REQUEST');
    expect(await codeOf(issueServerCertificate(ca, { dnsNames: ['bad name'] }))).toBe('BAD_REQUEST');
    expect(await codeOf(issueServerCertificate(ca, { ipAddresses: ['300.1.1.1'] }))).toBe('BAD_REQUEST');
  });
});

describe('device certificates', () => {
  it('from a CSR made by openssl: CN and URI SAN carry the device id, clientAuth, 24 h, random serial', async () => {
    const keyFile = join(dir, 'device.key');
    execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyFile]);
    const csrPem = execFileSync('openssl', ['req', '-new', '-key', keyFile, '-subj', '/CN=anything'], { encoding: 'utf8' });
    const now = new Date();
    const a = await issueDeviceCertificate(ca, { deviceId: 'dev-0042', csrPem, now });
    const b = await issueDeviceCertificate(ca, { deviceId: 'dev-0042', csrPem, now });
    expect(a.serialNumber).not.toBe(b.serialNumber);
    expect(Math.abs(a.notAfter.getTime() - now.getTime() - 24 * 3_600_000)).toBeLessThan(1000); // X.509 times are whole seconds
    const text = certText(a.certPem);
    expect(text).toMatch(/Subject: CN = dev-0042/);
    expect(text).toContain(`URI:${deviceUri('dev-0042')}`);
    expect(text).toMatch(/TLS Web Client Authentication/);
    expect(opensslVerify(dir, { root: ca.root.certPem, intermediate: ca.intermediate.certPem, leaf: a.certPem }, 'sslclient')).toMatchObject({ status: 0 });
    const verified = await verifyChain({ leafPem: a.certPem, intermediatePem: ca.intermediate.certPem, rootPem: ca.root.certPem, purpose: 'clientAuth' });
    expect(verified.uris).toEqual(['urn:edge-ota:device:dev-0042']);
    // The key is the CSR's: the device's own key matches the certificate.
    const certKey = execFileSync('openssl', ['x509', '-noout', '-pubkey'], { input: a.certPem, encoding: 'utf8' });
    expect(certKey).toBe(execFileSync('openssl', ['pkey', '-in', keyFile, '-pubout'], { encoding: 'utf8' }));
  });

  it('from an enrolled public key (Ed25519 or P-256); refuses RSA, tampered or oversized CSRs, bad ids', async () => {
    const ed = generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const cert = await issueDeviceCertificate(ca, { deviceId: 'dev-ed', publicKeyPem: ed });
    expect(certText(cert.certPem)).toMatch(/ED25519/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
    expect(await codeOf(issueDeviceCertificate(ca, { deviceId: 'dev-rsa', publicKeyPem: rsa }))).toBe('BAD_REQUEST');
    const csrPem = execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', '/dev/null', '-subj', '/CN=x'], { encoding: 'utf8' });
    const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 40]! ^= 0xff; // inside the signature
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    expect(await codeOf(issueDeviceCertificate(ca, { deviceId: 'dev-t', csrPem: tampered }))).toBe('BAD_REQUEST');
    expect(await codeOf(issueDeviceCertificate(ca, { deviceId: 'dev-big', csrPem: 'A'.repeat(9000) }))).toBe('BAD_REQUEST');
    expect(await codeOf(issueDeviceCertificate(ca, { deviceId: 'bad id!', publicKeyPem: ed }))).toBe('BAD_REQUEST');
    expect(await codeOf(issueDeviceCertificate(ca, { deviceId: 'dev-both', publicKeyPem: ed, csrPem }))).toBe('BAD_REQUEST');
  });

  it('verifyDeviceCsr parses once for the key check and the issue; refuses P-384, RSA and tampered CSRs by name', async () => {
    const keyFile = join(dir, 'verified.key');
    execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', keyFile]);
    const csrPem = execFileSync('openssl', ['req', '-new', '-key', keyFile, '-subj', '/CN=x'], { encoding: 'utf8' });
    const csr = await verifyDeviceCsr(csrPem);
    // The SPKI DER it carries is the device key's, as openssl writes it.
    const spkiPem = execFileSync('openssl', ['pkey', '-in', keyFile, '-pubout'], { encoding: 'utf8' });
    expect(csr.publicKeyDer.equals(Buffer.from(spkiPem.replace(/-----[^-]+-----|\s/g, ''), 'base64'))).toBe(true);
    const issued = await issueDeviceCertificate(ca, { deviceId: 'dev-verified', csr });
    expect(execFileSync('openssl', ['x509', '-noout', '-pubkey'], { input: issued.certPem, encoding: 'utf8' })).toBe(spkiPem);
    // notBefore is the encoded one (whole seconds), what a verifier reads.
    expect(issued.notBefore.toISOString()).toBe(new Date(new x509.X509Certificate(issued.certPem).notBefore).toISOString());
    expect(issued.notBefore.getUTCMilliseconds()).toBe(0);
    expect(await codeOf(issueDeviceCertificate(ca, { deviceId: 'dev-two', csr, csrPem }))).toBe('BAD_REQUEST');
    const refusal = (pem: string) => verifyDeviceCsr(pem).then(() => 'accepted', (err: Error) => err.message);
    const p384 = execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-nodes', '-keyout', '/dev/null', '-subj', '/CN=x'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(await refusal(p384)).toBe('device keys must be Ed25519 or ECDSA P-256, got ECDSA P-384');
    const rsa = execFileSync('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', '/dev/null', '-subj', '/CN=x'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(await refusal(rsa)).toBe('device keys must be Ed25519 or ECDSA P-256, got RSASSA-PKCS1-v1_5');
    const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 10]! ^= 0xff; // inside the signature
    expect(await refusal(`-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`)).toMatch(/signature does not verify/);
  });
});

describe('verifyChain refusals', () => {
  it('each cause has its own code', async () => {
    const device = await issueDeviceCertificate(ca, { deviceId: 'dev-1', publicKeyPem: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }).toString() });
    const chain = { leafPem: device.certPem, intermediatePem: ca.intermediate.certPem, rootPem: ca.root.certPem, purpose: 'clientAuth' as const };
    const other = await createFleetCa({ name: 'Other' });
    const otherDevice = await issueDeviceCertificate(other, { deviceId: 'dev-1', publicKeyPem: generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }).toString() });
    const inDays = (d: number) => new Date(Date.now() + d * 86_400_000);
    expect(await codeOf(verifyChain(chain))).toBe('accepted');
    expect(await codeOf(verifyChain({ ...chain, purpose: 'serverAuth' }))).toBe('WRONG_KEY_PURPOSE');
    expect(await codeOf(verifyChain({ ...chain, now: inDays(2) }))).toBe('CERTIFICATE_EXPIRED');
    expect(await codeOf(verifyChain({ ...chain, now: inDays(-1) }))).toBe('CERTIFICATE_NOT_YET_VALID');
    expect(await codeOf(verifyChain({ ...chain, rootPem: other.root.certPem }))).toBe('UNTRUSTED_ROOT');
    expect(await codeOf(verifyChain({ ...chain, leafPem: otherDevice.certPem }))).toBe('BROKEN_CHAIN');
    expect(await codeOf(verifyChain({ ...chain, leafPem: 'not a certificate' }))).toBe('MALFORMED_CERTIFICATE');
    // An "intermediate" the root signed without CA constraints must not vouch for leaves.
    const rootCert = new x509.X509Certificate(ca.root.certPem);
    const rootKey = await crypto.subtle.importKey('pkcs8', Buffer.from(ca.root.keyPem!.replace(/-----[^-]+-----|\s/g, ''), 'base64'), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
    const interCert = new x509.X509Certificate(ca.intermediate.certPem);
    const rogue = await x509.X509CertificateGenerator.create({
      subject: interCert.subject,
      issuer: rootCert.subject,
      publicKey: interCert.publicKey,
      signingKey: rootKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
    });
    expect(await codeOf(verifyChain({ ...chain, intermediatePem: rogue.toString('pem') }))).toBe('NOT_A_CA');
  });
});

it('reads back what it wrote: the CA files are PEM openssl accepts', async () => {
  const caDir = join(dir, 'pem');
  await writeFleetCa(caDir, ca);
  for (const file of ['root.key.pem', 'intermediate.key.pem']) {
    expect(execFileSync('openssl', ['pkey', '-noout', '-in', join(caDir, file)], { encoding: 'utf8' })).toBe('');
  }
  expect(await readFile(join(caDir, 'root.crt.pem'), 'utf8')).toBe(ca.root.certPem);
});

it('renews the intermediate under the same root: new leaves verify, the old intermediate is not the new one', async () => {
  const old = await issueServerCertificate(ca, { dnsNames: ['gw.example'] });
  const renewed = await renewIntermediate(ca, ca.root.keyPem!);
  expect(renewed.root.certPem).toBe(ca.root.certPem);
  expect(renewed.intermediate.certPem).not.toBe(ca.intermediate.certPem);
  expect(certText(renewed.intermediate.certPem)).toMatch(/CA:TRUE, pathlen:0/);
  const fresh = await issueServerCertificate(renewed, { dnsNames: ['gw.example'] });
  expect(opensslVerify(dir, { root: ca.root.certPem, intermediate: renewed.intermediate.certPem, leaf: fresh.certPem }, 'sslserver').status).toBe(0);
  expect(await codeOf(verifyChain({ leafPem: old.certPem, intermediatePem: renewed.intermediate.certPem, rootPem: ca.root.certPem, purpose: 'serverAuth' }))).toBe('BROKEN_CHAIN');
  const stranger = await createFleetCa();
  expect(await codeOf(renewIntermediate(ca, stranger.root.keyPem!))).toBe('BAD_REQUEST');
});
