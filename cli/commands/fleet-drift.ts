// `ota fleet drift` and `ota fleet desired-state set|show|clear` (docs/attestation.md, "Posture and
// drift"): what operators want of a hardware id's devices (allowed ports and services, config
// digest, minimum agent version; per ring if need be) and the drift events the gateway recorded
// from the devices' posture heartbeats, open or resolved.
import type { Command } from 'commander';
import { z } from 'zod';
import type { DesiredStateRecord, DriftEvent } from '../../fleet/fleet-store.js';
import { listeningPortSchema, serviceNameSchema } from '../../schemas/device-api.js';
import { hardwareIdSchema, semverSchema, sha256HexSchema } from '../../schemas/manifest.js';
import { withFleetStore } from '../context.js';
import { printResult } from '../output.js';

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

function checked<T>(schema: z.ZodType<T>, value: string, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new Error(`${what} ${JSON.stringify(value)}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

function eventLine(e: DriftEvent): string {
  const detail = Object.entries(e.detail)
    .filter(([k]) => k !== 'allowed')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const until = e.resolvedAt ? `resolved ${e.resolvedAt.toISOString()}` : `last seen ${e.lastSeen.toISOString()} (OPEN)`;
  return `${e.deviceId}  ${e.kind}${e.subject ? ` ${e.subject}` : ''}  first seen ${e.firstSeen.toISOString()}  ${until}${detail ? `  ${detail}` : ''}`;
}

function desiredLine(d: DesiredStateRecord): string {
  const list = (v: string[] | null) => (v === null ? 'any' : v.length ? v.join(',') : 'none');
  return `${d.hardwareId}${d.ring ? ` ring ${d.ring}` : ''}  ports ${list(d.allowedPorts)}  services ${list(d.allowedServices)}  config ${d.configDigest ?? 'any'}  agent >= ${d.minAgentVersion ?? 'any'}  (set ${d.updatedAt.toISOString()}${d.updatedBy ? ` by ${d.updatedBy}` : ''})`;
}

interface SetOptions {
  hardware: string;
  ring?: string;
  allowPort?: string[];
  noPorts?: boolean;
  allowService?: string[];
  noServices?: boolean;
  configDigest?: string;
  minAgentVersion?: string;
  by?: string;
  json?: boolean;
}

export function registerFleetDriftCommands(fleet: Command): void {
  fleet
    .command('drift')
    .description("drift between devices' posture heartbeats and the desired state (open events; --all: resolved too)")
    .option('--device <id>', 'only this device')
    .option('--all', 'include resolved events')
    .option('--json', 'print JSON')
    .action(async (opts: { device?: string; all?: boolean; json?: boolean }, command: Command) => {
      const events = await withFleetStore(command, async (f) => {
        if (opts.device && !(await f.getDevice(opts.device))) throw new Error(`no device ${opts.device} in the fleet store`);
        return f.listDriftEvents({ deviceId: opts.device, all: opts.all });
      });
      printResult(opts, events, () => (events.length ? events.map(eventLine).join('\n') : `no ${opts.all ? '' : 'open '}drift${opts.device ? ` for ${opts.device}` : ''}`));
    });

  const desired = fleet.command('desired-state').description('what the devices of a hardware id (or one of its rings) should expose and run');
  desired
    .command('set')
    .description('set (replace) the desired state; an unset field is not judged')
    .requiredOption('--hardware <id>', 'hardware id')
    .option('--ring <name>', "only this rollout ring (overrides the hardware's row field by field)")
    .option('--allow-port <proto/port>', 'an allowed listening socket, e.g. tcp/22 (repeat)', collect)
    .option('--no-ports', 'no listening socket is allowed')
    .option('--allow-service <name>', 'an allowed enabled service (repeat)', collect)
    .option('--no-services', 'no enabled service is allowed')
    .option('--config-digest <sha256>', "sha256 of the agent's configuration, as its heartbeats report it (posture.configDigest)")
    .option('--min-agent-version <semver>', 'lowest agent version accepted')
    .option('--by <name>', 'who sets it, for the record')
    .option('--json', 'print JSON')
    .action(async (opts: SetOptions, command: Command) => {
      // commander turns --no-ports into ports: false.
      const raw = opts as SetOptions & { ports?: boolean; services?: boolean };
      const allowedPorts = raw.ports === false ? [] : opts.allowPort ? [...new Set(opts.allowPort.map((p) => checked(listeningPortSchema, p, '--allow-port')))].sort() : null;
      const allowedServices = raw.services === false ? [] : opts.allowService ? [...new Set(opts.allowService.map((s) => checked(serviceNameSchema, s, '--allow-service')))].sort() : null;
      const record = {
        hardwareId: checked(hardwareIdSchema, opts.hardware, '--hardware'),
        ring: opts.ring ?? '',
        allowedPorts,
        allowedServices,
        configDigest: opts.configDigest ? checked(sha256HexSchema, opts.configDigest.toLowerCase(), '--config-digest') : null,
        minAgentVersion: opts.minAgentVersion ? checked(semverSchema, opts.minAgentVersion, '--min-agent-version') : null,
        updatedBy: opts.by ?? null,
      };
      const saved = await withFleetStore(command, (f) => f.setDesiredState(record));
      printResult(opts, saved, () => `desired state set: ${desiredLine(saved)}`);
    });
  desired
    .command('show')
    .description('desired states (of one hardware id)')
    .option('--hardware <id>', 'hardware id')
    .option('--json', 'print JSON')
    .action(async (opts: { hardware?: string; json?: boolean }, command: Command) => {
      const list = await withFleetStore(command, (f) => f.listDesiredStates(opts.hardware));
      printResult(opts, list, () => (list.length ? list.map(desiredLine).join('\n') : 'no desired state is set: posture drift is judged only against releases and TUF versions'));
    });
  desired
    .command('clear')
    .description('remove a desired state')
    .requiredOption('--hardware <id>', 'hardware id')
    .option('--ring <name>', 'the ring row only')
    .action(async (opts: { hardware: string; ring?: string }, command: Command) => {
      if (!(await withFleetStore(command, (f) => f.clearDesiredState(opts.hardware, opts.ring ?? '')))) throw new Error(`no desired state for ${opts.hardware}${opts.ring ? ` ring ${opts.ring}` : ''}`);
      process.stdout.write(`cleared the desired state of ${opts.hardware}${opts.ring ? ` ring ${opts.ring}` : ''}\n`);
    });
}
