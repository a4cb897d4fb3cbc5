// `ota fleet preauthorize | token | factory-ca | accept | reject | admissions`: how devices are
// admitted (docs/device-api.md "Admission"). Every selector a device gets (channel, labels) is set
// here, on the operator's side; nothing a device sends chooses them.
import type { Command } from 'commander';
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { certificateFingerprint } from '../../gateway/factory-identity.js';
import { deviceIdSchema, labelsSchema, publicKeyPemSchema, type Labels } from '../../schemas/device-api.js';
import { algorithmOf } from '../../schemas/device-envelope.js';
import { channelSchema, hardwareIdSchema } from '../../schemas/manifest.js';
import { describeZodIssues } from '../../platform/zod-issues.js';
import { printResult } from '../output.js';
import { withFleetStore } from '../context.js';

interface SelectorFlags {
  channel?: string;
  labels?: string[];
  json?: boolean;
}

function checked<T>(schema: z.ZodType<T>, flag: string, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new Error(`${flag}: ${describeZodIssues(parsed.error)}`);
  return parsed.data;
}

/** `k=v` pairs into labels, checked like the device API's. */
export function parseLabels(pairs: string[] = []): Labels {
  const labels: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--labels: expected name=value, got "${pair}"`);
    labels[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return checked(labelsSchema, '--labels', labels);
}

/** `90s`, `30m`, `1h`, `7d` (or bare seconds) into seconds; at most 30 days. */
export function parseTtl(raw: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(raw);
  const seconds = match ? Number(match[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'] : NaN;
  if (!(seconds >= 1 && seconds <= 30 * 86_400)) throw new Error(`--ttl: expected a duration from 1s to 30d such as 1h or 30m, got "${raw}"`);
  return seconds;
}

function publicKeyFrom(file: string): { publicKeyPem: string; keyAlgorithm: ReturnType<typeof algorithmOf> } {
  const text = readFileSync(file, 'utf8');
  try {
    const pem = createPublicKey(text).export({ type: 'spki', format: 'pem' }).toString();
    return { publicKeyPem: checked(publicKeyPemSchema, '--public-key', pem), keyAlgorithm: algorithmOf(createPublicKey(pem)) };
  } catch (error) {
    throw new Error(`--public-key ${file}: ${(error as Error).message}`);
  }
}

const selectorOptions = (command: Command) =>
  command
    .option('--channel <channel>', 'release channel the device follows', 'stable')
    .option('--labels <k=v...>', 'rollout selectors (region, store, ...)')
    .option('--json', 'print JSON');

const preauthorizationFileSchema = z.array(
  z.strictObject({ deviceId: deviceIdSchema, hardwareId: hardwareIdSchema, channel: channelSchema, labels: labelsSchema, publicKeyPem: publicKeyPemSchema, keyAlgorithm: z.enum(['ed25519', 'ecdsa-p256-sha256']) }),
).max(100_000);

export function registerFleetAdmissionCommands(fleet: Command): void {
  selectorOptions(
    fleet
      .command('preauthorize')
      .description('admit a device before it first connects: its id, public key, hardware and the selectors it gets')
      .option('--device <id>', 'device id')
      .option('--public-key <file>', "the device's public key (PEM)")
      .option('--hardware <id>', 'hardware id the device enrolls with')
      .option('--file <file>', 'many at once: a JSON array of {deviceId, hardwareId, channel, labels, publicKeyPem, keyAlgorithm}'),
  ).action(async (opts: SelectorFlags & { device?: string; publicKey?: string; hardware?: string; file?: string }, command: Command) => {
    let list: z.infer<typeof preauthorizationFileSchema>;
    if (opts.file) {
      if (opts.device || opts.publicKey) throw new Error('--file replaces --device and --public-key');
      list = checked(preauthorizationFileSchema, opts.file, JSON.parse(readFileSync(opts.file, 'utf8')));
    } else {
      if (!opts.device || !opts.publicKey || !opts.hardware) throw new Error('give --device, --public-key and --hardware (or --file)');
      const selectors = { channel: checked(channelSchema, '--channel', opts.channel), labels: parseLabels(opts.labels) };
      list = [{ deviceId: checked(deviceIdSchema, '--device', opts.device), hardwareId: checked(hardwareIdSchema, '--hardware', opts.hardware), ...selectors, ...publicKeyFrom(opts.publicKey) }];
    }
    const refused = await withFleetStore(command, (f) => f.preauthorizeAll(list));
    if (refused.length) throw new Error(`already enrolled, not preauthorized: ${refused.slice(0, 10).join(', ')}${refused.length > 10 ? ` and ${refused.length - 10} more` : ''}`);
    printResult(opts, { preauthorized: list.map((p) => p.deviceId) }, () => (list.length === 1 ? `preauthorized ${list[0]!.deviceId} (${list[0]!.hardwareId}/${list[0]!.channel})` : `preauthorized ${list.length} devices`));
  });

  selectorOptions(
    fleet
      .command('token')
      .description('a single-use enrollment token for one device (only its hash is stored; shown once)')
      .requiredOption('--device <id>', 'the device it admits, and no other')
      .option('--ttl <duration>', 'how long it stays valid (30m, 1h, 7d)', '1h')
      .option('--hardware <id>', 'only for this hardware id (default: any)'),
  ).action(async (opts: SelectorFlags & { device: string; ttl: string; hardware?: string }, command: Command) => {
    const request = {
      deviceId: checked(deviceIdSchema, '--device', opts.device),
      ttlSeconds: parseTtl(opts.ttl),
      channel: checked(channelSchema, '--channel', opts.channel),
      labels: parseLabels(opts.labels),
      hardwareId: opts.hardware === undefined ? undefined : checked(hardwareIdSchema, '--hardware', opts.hardware),
    };
    const made = await withFleetStore(command, async (f) => {
      if (await f.getDevice(request.deviceId)) throw new Error(`device ${request.deviceId} is already enrolled`);
      return f.createEnrollmentToken(request);
    });
    printResult(opts, { deviceId: request.deviceId, token: made.token, expiresAt: made.expiresAt.toISOString() }, () => made.token);
  });

  const ca = fleet.command('factory-ca').description('manufacturer CAs whose device certificates (IDevIDs) may ask for admission');
  selectorOptions(
    ca
      .command('add <file>')
      .description('trust a manufacturer CA certificate (PEM); its devices wait for `ota fleet accept` unless --auto-accept matches')
      .option('--name <name>', 'a name for people (default: the certificate subject)')
      .option('--auto-accept <pattern>', 'admit devices whose id matches this pattern (`*` wildcards) without an operator'),
  ).action(async (file: string, opts: SelectorFlags & { name?: string; autoAccept?: string }, command: Command) => {
    const pem = readFileSync(file, 'utf8');
    let fingerprint: string;
    try {
      fingerprint = certificateFingerprint(pem);
    } catch (error) {
      throw new Error(`${file}: not a PEM certificate (${(error as Error).message})`);
    }
    const certificatePem = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/)![0] + '\n';
    const added = await withFleetStore(command, (f) =>
      f.addFactoryCa({ fingerprint, name: opts.name ?? file, certificatePem, autoAccept: opts.autoAccept ?? null, channel: checked(channelSchema, '--channel', opts.channel), labels: parseLabels(opts.labels) }),
    );
    printResult(opts, added, () => `factory CA ${added.name}: sha256 ${added.fingerprint}${added.autoAccept ? `, auto-accepts ${added.autoAccept}` : ', devices wait for ota fleet accept'}`);
  });
  ca.command('list')
    .description('the trusted manufacturer CAs')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      const cas = await withFleetStore(command, (f) => f.listFactoryCas());
      printResult(opts, cas, () => (cas.length ? cas.map((c) => `${c.fingerprint}  ${c.name}  ${c.autoAccept ? `auto-accept ${c.autoAccept}` : 'operator accepts'}  -> ${c.channel}`).join('\n') : 'no factory CAs'));
    });
  ca.command('remove <fingerprint>')
    .description('stop trusting a manufacturer CA (devices already admitted stay)')
    .action(async (fingerprint: string, _opts: unknown, command: Command) => {
      if (!(await withFleetStore(command, (f) => f.removeFactoryCa(fingerprint)))) throw new Error(`no factory CA with fingerprint ${fingerprint}`);
      process.stdout.write(`removed factory CA ${fingerprint}\n`);
    });

  selectorOptions(fleet.command('accept <id>').description('admit a pending device (factory identity) with these selectors (default: its factory CA\'s)')).action(
    async (id: string, opts: SelectorFlags, command: Command) => {
      const selectors = { channel: command.getOptionValueSource('channel') === 'default' ? undefined : checked(channelSchema, '--channel', opts.channel), labels: opts.labels && parseLabels(opts.labels) };
      const outcome = await withFleetStore(command, (f) => f.acceptDevice(id, selectors));
      if (outcome.kind === 'not-pending') throw new Error(`device ${id} is not pending (it is ${outcome.state})`);
      printResult(opts, { deviceId: id, channel: outcome.device.channel, labels: outcome.device.labels }, () => `accepted ${id} (${outcome.device.hardwareId}/${outcome.device.channel})`);
    },
  );
  fleet
    .command('reject <id>')
    .description('refuse a pending device from now on')
    .action(async (id: string, _opts: unknown, command: Command) => {
      if (!(await withFleetStore(command, (f) => f.rejectDevice(id)))) throw new Error(`device ${id} is not pending`);
      process.stdout.write(`rejected ${id}\n`);
    });
  fleet
    .command('admissions')
    .description('preauthorized devices not yet enrolled, and devices pending or rejected')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      const { preauthorized, requests } = await withFleetStore(command, async (f) => {
        const enrolled = new Set((await f.listDevices()).map((d) => d.id));
        return { preauthorized: (await f.listPreauthorizations()).filter((p) => !enrolled.has(p.deviceId)), requests: await f.listAdmissionRequests() };
      });
      printResult(opts, { preauthorized, requests }, () =>
        [...preauthorized.map((p) => `${p.deviceId}  preauthorized  ${p.hardwareId}/${p.channel}`), ...requests.map((r) => `${r.deviceId}  ${r.state}  ${r.hardwareId}  factory CA ${r.factoryCa.slice(0, 16)}`)].join('\n') || 'nothing waiting',
      );
    });
}
