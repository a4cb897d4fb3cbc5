// `ota fleet tpm-ca add | list | remove`: the TPM manufacturer CAs whose EK certificates show that an
// attestation key's endorsement key is a real TPM's (docs/attestation.md "Endorsement key"). Stored
// in the fleet database like the factory CAs and named the same way (SHA-256 of the DER). A file may
// hold several certificates (a vendor's root and its issuing CAs), PEM or one DER; each must be a CA.
import type { Command } from 'commander';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { certificateFingerprint } from '../../gateway/factory-identity.js';
import { printResult } from '../output.js';
import { withFleetStore } from '../context.js';

/** The CA certificates of a PEM bundle or a DER file, as PEM; refuses anything that is not a CA. */
export function vendorCaCertificates(file: string, bytes: Buffer): string[] {
  const text = bytes.toString('latin1');
  const pems = text.includes('-----BEGIN CERTIFICATE-----') ? [...text.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map((m) => m[0]) : [bytes];
  return pems.map((source, i) => {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(source);
    } catch (error) {
      throw new Error(`${file}: certificate ${i + 1} does not parse (${(error as Error).message})`);
    }
    if (!cert.ca) throw new Error(`${file}: certificate ${i + 1} ("${cert.subject.replace(/\n/g, ', ')}") is not a CA certificate; add the vendor's CA, not an EK certificate`);
    return cert.toString();
  });
}

export function registerTpmCaCommands(fleet: Command): void {
  const ca = fleet.command('tpm-ca').description('TPM manufacturer CAs whose EK certificates prove an attestation key lives in a real TPM');
  ca.command('add <file>')
    .description('trust the TPM vendor CA certificate(s) in a PEM bundle or DER file')
    .option('--name <name>', 'a name for people (default: the file name)')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: { name?: string; json?: boolean }, command: Command) => {
      const pems = vendorCaCertificates(file, readFileSync(file));
      const added = await withFleetStore(command, async (f) => {
        const out = [];
        for (const [i, certificatePem] of pems.entries()) {
          const name = (opts.name ?? file) + (pems.length > 1 ? ` #${i + 1}` : '');
          out.push(await f.addTpmVendorCa({ fingerprint: certificateFingerprint(certificatePem), name, certificatePem }));
        }
        return out;
      });
      printResult(opts, added, () => added.map((c) => `TPM vendor CA ${c.name}: sha256 ${c.fingerprint}`).join('\n'));
    });
  ca.command('list')
    .description('the trusted TPM vendor CAs')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      const cas = await withFleetStore(command, (f) => f.listTpmVendorCas());
      printResult(opts, cas, () =>
        cas.length ? cas.map((c) => `${c.fingerprint}  ${c.name}  ${new X509Certificate(c.certificatePem).subject.replace(/\n/g, ', ')}`).join('\n') : 'no TPM vendor CAs: EK certificates are not checked (devices are recorded ek unverified)',
      );
    });
  ca.command('remove <fingerprint>')
    .description('stop trusting a TPM vendor CA (attestation keys already registered stay)')
    .action(async (fingerprint: string, _opts: unknown, command: Command) => {
      if (!(await withFleetStore(command, (f) => f.removeTpmVendorCa(fingerprint)))) throw new Error(`no TPM vendor CA with fingerprint ${fingerprint}`);
      process.stdout.write(`removed TPM vendor CA ${fingerprint}\n`);
    });
}
