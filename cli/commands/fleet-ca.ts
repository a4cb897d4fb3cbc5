// `ota fleet ca`: the fleet CA (docs/fleet-ca.md). init creates the offline root and the issuing
// intermediate; show prints them; renew-intermediate replaces the intermediate under the same root;
// server-cert issues the gateway's certificate; device-cert a device's.
// Issuing commands create the CA on first use at the embedded default, like the release signing key.
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { CA_FILES, caPaths, loadOrCreateFleetCa, readFleetCa, summarizeCertificate, writeFleetCa } from '../../identity/ca-files.js';
import { writePrivateFiles } from '../../identity/ca-output.js';
import { createFleetCa, renewIntermediate, type FleetCa } from '../../identity/fleet-ca.js';
import { DEFAULT_DEVICE_HOURS, DEFAULT_SERVER_DAYS, issueDeviceCertificate, issueServerCertificate, MAX_REQUEST_PEM_BYTES } from '../../identity/issue.js';
import { writeFileAtomic } from '../../platform/atomic-write.js';
import { readFileAtMost } from '../../platform/bounded-read.js';
import { configFrom } from '../context.js';
import { printResult, progress } from '../output.js';

interface DirFlags {
  dir?: string;
  json?: boolean;
}

const caDir = (opts: DirFlags, command: Command) => opts.dir ?? configFrom(command).identity.caDir;

function positive(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive whole number, got "${raw}"`);
  return n;
}

function describeCa(dir: string, ca: FleetCa) {
  return {
    dir,
    root: { ...summarizeCertificate(ca.root.certPem), keyOnThisMachine: ca.root.keyPem !== undefined },
    intermediate: summarizeCertificate(ca.intermediate.certPem),
  };
}

function caLines(d: ReturnType<typeof describeCa>): string {
  const row = (label: string, c: ReturnType<typeof summarizeCertificate>, extra = '') => `${label.padEnd(13)} ${c.subject}  expires ${c.notAfter}${extra}\n${' '.repeat(14)}sha256 ${c.fingerprintSha256}`;
  return [`fleet CA in ${d.dir}`, row('root', d.root, d.root.keyOnThisMachine ? '  (key on this machine: move it offline)' : '  (key offline)'), row('intermediate', d.intermediate)].join('\n');
}

async function issuingCa(dir: string, opts: DirFlags): Promise<FleetCa> {
  const ca = await loadOrCreateFleetCa(dir);
  if (ca.created) progress(opts, `created a fleet CA in ${dir} (first use)`);
  return ca;
}

export function registerFleetCaCommands(fleet: Command): void {
  const ca = fleet.command('ca').description('the fleet CA: offline root, issuing intermediate, gateway and device certificates');
  ca.command('init')
    .description('create the fleet CA: an offline root and an online issuing intermediate (files 0600 in a 0700 folder)')
    .option('--dir <dir>', 'CA folder (default: identity.caDir)')
    .option('--force', 'replace an existing CA (every certificate it issued stops being trusted)')
    .option('--json', 'print JSON')
    .action(async (opts: DirFlags & { force?: boolean }, command: Command) => {
      const dir = caDir(opts, command);
      const created = await createFleetCa();
      await writeFleetCa(dir, created, { force: opts.force });
      const shown = describeCa(dir, created);
      printResult(opts, { ...shown, files: caPaths(dir) }, () => `${caLines(shown)}\nmove ${caPaths(dir).rootKey} off this machine; issuing needs only the intermediate`);
    });
  ca.command('show')
    .description('subjects, SHA-256 fingerprints and expiry of the root and the intermediate')
    .option('--dir <dir>', 'CA folder (default: identity.caDir)')
    .option('--json', 'print JSON')
    .action(async (opts: DirFlags, command: Command) => {
      const dir = caDir(opts, command);
      const shown = describeCa(dir, await readFleetCa(dir));
      printResult(opts, shown, () => caLines(shown));
    });
  ca.command('renew-intermediate')
    .description('issue a new issuing intermediate under the same root (needs the root key; devices keep their pinned root)')
    .option('--root-key <file>', 'the root key brought back from offline (default: root.key.pem in the CA folder)')
    .option('--dir <dir>', 'CA folder (default: identity.caDir)')
    .option('--json', 'print JSON')
    .action(async (opts: DirFlags & { rootKey?: string }, command: Command) => {
      const dir = caDir(opts, command);
      const current = await readFleetCa(dir);
      const rootKeyPem = opts.rootKey ? await readFile(opts.rootKey, 'utf8') : current.root.keyPem;
      if (!rootKeyPem) throw new Error(`the root key is not in ${dir} (moved offline?): bring it back with --root-key FILE`);
      const renewed = await renewIntermediate(current, rootKeyPem);
      await writePrivateFiles(dir, { [CA_FILES.intermediateKey]: renewed.intermediate.keyPem, [CA_FILES.intermediateCert]: renewed.intermediate.certPem });
      const shown = describeCa(dir, renewed);
      printResult(opts, shown, () => `${caLines(shown)}
new certificates come from the new intermediate; those the old one issued stay valid until they expire`);
    });
  ca.command('server-cert')
    .description('issue the gateway a server certificate (serverAuth) for the names and addresses devices dial')
    .option('--dns <name...>', 'DNS names', [])
    .option('--ip <address...>', 'IP addresses', [])
    .option('--days <n>', 'validity in days', String(DEFAULT_SERVER_DAYS))
    .requiredOption('--out <dir>', 'folder for server.key.pem and server.chain.pem (leaf + intermediate)')
    .option('--dir <dir>', 'CA folder (default: identity.caDir)')
    .option('--json', 'print JSON')
    .action(async (opts: DirFlags & { dns: string[]; ip: string[]; days: string; out: string }, command: Command) => {
      const days = positive('--days', opts.days);
      const fleetCa = await issuingCa(caDir(opts, command), opts);
      const issued = await issueServerCertificate(fleetCa, { dnsNames: opts.dns, ipAddresses: opts.ip, validityDays: days });
      const files = await writePrivateFiles(opts.out, { 'server.key.pem': issued.keyPem, 'server.chain.pem': issued.chainPem, 'root.crt.pem': fleetCa.root.certPem });
      const result = { serialNumber: issued.serialNumber, notAfter: issued.notAfter.toISOString(), dnsNames: opts.dns, ipAddresses: opts.ip, files };
      printResult(opts, result, () => `server certificate ${issued.serialNumber} for ${[...opts.dns, ...opts.ip].join(', ')}, expires ${result.notAfter}\n  key   ${files['server.key.pem']}\n  chain ${files['server.chain.pem']}\n  root  ${files['root.crt.pem']} (what clients pin)`);
    });
  ca.command('device-cert')
    .description('issue a device a client certificate (clientAuth, URI SAN urn:edge-ota:device:<id>) from its CSR or public key')
    .requiredOption('--device <id>', 'device id')
    .option('--csr <file>', 'PKCS#10 CSR (PEM) signed by the device key')
    .option('--public-key <file>', 'or the device public key (SPKI PEM)')
    .option('--hours <n>', 'validity in hours', String(DEFAULT_DEVICE_HOURS))
    .requiredOption('--out <file>', 'where to write the certificate chain (leaf + intermediate)')
    .option('--dir <dir>', 'CA folder (default: identity.caDir)')
    .option('--json', 'print JSON')
    .action(async (opts: DirFlags & { device: string; csr?: string; publicKey?: string; hours: string; out: string }, command: Command) => {
      const hours = positive('--hours', opts.hours);
      const read = (file: string | undefined, what: string) => (file ? readFileAtMost(file, MAX_REQUEST_PEM_BYTES, what).then((b) => b.toString('utf8')) : undefined);
      const [csrPem, publicKeyPem] = await Promise.all([read(opts.csr, `--csr ${opts.csr}`), read(opts.publicKey, `--public-key ${opts.publicKey}`)]);
      const issued = await issueDeviceCertificate(await issuingCa(caDir(opts, command), opts), { deviceId: opts.device, csrPem, publicKeyPem, validityHours: hours });
      // A certificate is public: written whole, 0644.
      await writeFileAtomic(opts.out, issued.chainPem);
      const result = { deviceId: opts.device, serialNumber: issued.serialNumber, notAfter: issued.notAfter.toISOString(), file: opts.out };
      printResult(opts, result, () => `device certificate ${issued.serialNumber} for ${opts.device}, expires ${result.notAfter}: ${result.file}`);
    });
}
