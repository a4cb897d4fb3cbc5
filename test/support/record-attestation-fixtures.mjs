// Records the quotes the attestation unit tests verify (test/fixtures/attestation/quotes.json) from
// two software TPMs: run `npm run build` first, then `node test/support/record-attestation-fixtures.mjs`.
// Device A boots release 1.0.0 (measured), quotes a nonce; boots a tampered slot, quotes another;
// is power-cycled and quotes again. Device B quotes A's first nonce with its own AK.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dist = new URL('../../dist/', import.meta.url);
const { ensureTpmKeys } = await import(new URL('device-client/tpm/tpm-keys.js', dist));
const { extendPcr, resetPcr, quotePcrs } = await import(new URL('device-client/tpm/tpm-pcr.js', dist));
const { bootEvents, expectedBootPcr } = await import(new URL('release/boot-measurement.js', dist));
const { quoteQualifyingData } = await import(new URL('schemas/attestation-api.js', dist));

const port = () => new Promise((resolve) => { const s = createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); }); });
const root = mkdtempSync(join(tmpdir(), 'record-attest-'));

async function startTpm(name) {
  const dir = join(root, name);
  mkdirSync(dir);
  execFileSync('swtpm_setup', ['--tpm2', '--tpmstate', dir, '--overwrite', '--pcr-banks', 'sha256'], { stdio: 'pipe' });
  let p;
  const start = async () => {
    p = await port();
    const r = spawnSync('swtpm', ['socket', '--tpm2', '--tpmstate', `dir=${dir}`, '--server', `type=tcp,port=${p},bindaddr=127.0.0.1`, '--ctrl', `type=tcp,port=${p + 1},bindaddr=127.0.0.1`, '--flags', 'not-need-init,startup-clear', '--daemon', '--pid', `file=${dir}/pid`]);
    if (r.status !== 0) throw new Error(String(r.stderr));
  };
  const stop = () => process.kill(Number(readFileSync(`${dir}/pid`, 'utf8')), 'SIGTERM');
  await start();
  return { get tcti() { return `swtpm:host=127.0.0.1,port=${p}`; }, stop, restart: async () => { stop(); await new Promise((r) => setTimeout(r, 300)); await start(); } };
}

const release = { hardwareId: 'rpi4-64', version: '1.0.0', imageSha256: createHash('sha256').update('factory image 1.0.0').digest('hex') };
const tampered = { ...release, imageSha256: createHash('sha256').update('factory image 1.0.0 with a backdoor').digest('hex') };
const measure = async (tpm, r) => { await resetPcr(tpm, 16); for (const e of bootEvents(r)) await extendPcr(tpm, 16, e); };
const nonces = ['n1-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'n2-BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB', 'n3-CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC'];

const a = await startTpm('a');
const b = await startTpm('b');
try {
  const akA = (await ensureTpmKeys(a)).attestationKey;
  const akB = (await ensureTpmKeys(b)).attestationKey;
  await measure(a, release);
  const clean = await quotePcrs(a, [16], quoteQualifyingData(nonces[0]));
  await measure(b, release);
  const otherDevice = await quotePcrs(b, [16], quoteQualifyingData(nonces[0]));
  await measure(a, tampered);
  const tamperedQuote = await quotePcrs(a, [16], quoteQualifyingData(nonces[1]));
  await a.restart();
  await measure(a, release);
  const afterPowerCycle = await quotePcrs(a, [16], quoteQualifyingData(nonces[2]));
  const doc = {
    recordedWith: 'swtpm 0.7 + tpm2-tools 5.4 (test/support/record-attestation-fixtures.mjs)',
    release: { ...release, bootPcr: expectedBootPcr(release) },
    tampered: { ...tampered, bootPcr: expectedBootPcr(tampered) },
    nonces,
    devices: { a: { ak: { pem: akA.pem, qualifiedName: akA.qualifiedName } }, b: { ak: { pem: akB.pem, qualifiedName: akB.qualifiedName } } },
    quotes: { clean, otherDevice, tampered: tamperedQuote, afterPowerCycle },
  };
  writeFileSync(new URL('../fixtures/attestation/quotes.json', import.meta.url), `${JSON.stringify(doc, null, 2)}\n`);
  console.log('wrote test/fixtures/attestation/quotes.json');
} finally {
  a.stop();
  b.stop();
  rmSync(root, { recursive: true, force: true });
}
