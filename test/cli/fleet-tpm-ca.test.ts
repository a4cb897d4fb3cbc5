// `ota fleet tpm-ca add | list | remove` through the compiled CLI against the embedded fleet store:
// swtpm's local CA bundle (root and issuing CA, recorded) adds two vendor CAs named by fingerprint;
// an EK certificate (not a CA) or a file that is no certificate is refused in one line.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { certificateFingerprint } from '../../gateway/factory-identity.js';
import { ensureDist } from '../support/dist.js';
import { otaIn } from '../support/ota-cli.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'attestation', 'ek');

describe('ota fleet tpm-ca', { timeout: 300_000 }, () => {
  let skipReason: string | undefined;
  const state = mkdtempSync(join(tmpdir(), 'ota-cli-tpm-ca-'));
  const ota = otaIn(state);
  beforeAll(async () => {
    skipReason = await ensureDist();
    if (skipReason) console.error(`\n*** SKIPPING ota fleet tpm-ca CLI test: ${skipReason} ***\n`);
  }, 200_000);

  it('adds a vendor bundle, lists it, refuses what is not a CA, removes by fingerprint', async (ctx) => {
    if (skipReason) return ctx.skip();
    const root = readFileSync(join(FIXTURES, 'swtpm-localca-root.pem'), 'utf8');
    const issuer = readFileSync(join(FIXTURES, 'swtpm-localca-issuer.pem'), 'utf8');
    writeFileSync(join(state, 'swtpm-bundle.pem'), root + issuer);
    expect((await ota(['fleet', 'tpm-ca', 'list'])).stdout).toMatch(/no TPM vendor CAs: EK certificates are not checked/);

    const added = await ota(['fleet', 'tpm-ca', 'add', join(state, 'swtpm-bundle.pem'), '--name', 'swtpm', '--json']);
    expect(added.code, added.stderr).toBe(0);
    const cas = JSON.parse(added.stdout) as Array<{ fingerprint: string; name: string }>;
    expect(cas.map((c) => [c.fingerprint, c.name])).toEqual([
      [certificateFingerprint(root), 'swtpm #1'],
      [certificateFingerprint(issuer), 'swtpm #2'],
    ]);
    const listed = await ota(['fleet', 'tpm-ca', 'list']);
    expect(listed.stdout).toContain(`${certificateFingerprint(issuer)}  swtpm #2  CN=swtpm-localca`);

    // The EK certificate itself (DER) is not a CA: refused in one line, nothing added.
    const notCa = await ota(['fleet', 'tpm-ca', 'add', join(FIXTURES, 'swtpm-rsa-ek.der')]);
    expect(notCa.code).toBe(1);
    expect(notCa.stderr.trim().split('\n')).toHaveLength(1);
    expect(notCa.stderr).toMatch(/is not a CA certificate/);
    const garbage = await ota(['fleet', 'tpm-ca', 'add', join(FIXTURES, 'swtpm-rsa-ek.pem')]);
    expect(garbage.code).toBe(1);
    expect(garbage.stderr).toMatch(/does not parse/);

    expect((await ota(['fleet', 'tpm-ca', 'remove', certificateFingerprint(root)])).stdout).toBe(`removed TPM vendor CA ${certificateFingerprint(root)}\n`);
    expect(JSON.parse((await ota(['fleet', 'tpm-ca', 'list', '--json'])).stdout)).toHaveLength(1);
    const unknown = await ota(['fleet', 'tpm-ca', 'remove', 'ab'.repeat(32)]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no TPM vendor CA with fingerprint/);
  });
});
