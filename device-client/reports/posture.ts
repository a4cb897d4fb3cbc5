// Posture facts for the heartbeat (docs/device-agent.md, "Posture"): what the device itself sees of
// what it runs and exposes. The boot measurement is the boot PCR the TPM holds (measured boot), or
// without a TPM the sha256 of the booted slot's bytes, hashed once per boot and kept in
// stateDir/posture.json (a slot is large; it does not change without a write this agent makes or a
// tamper that the next boot measures). Every list is bounded by POSTURE_LIMITS.
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { readFileAtMost } from '../../platform/bounded-read.js';
import { projectRoot } from '../../platform/paths.js';
import { POSTURE_LIMITS, postureSchema, serviceNameSchema, type Posture } from '../../schemas/device-api.js';
import { sha256HexSchema } from '../../schemas/manifest.js';
import type { Device } from '../agent/device.js';
import { readDeviceTrust } from '../agent/device-trust.js';
import type { DeviceConfig } from '../config.js';
import { sha256Of } from '../slots/slot-digest.js';
import { readJsonFile, writeJsonFile } from '../state/json-file.js';
import { readPcr } from '../tpm/tpm-pcr.js';
import { listeningPorts } from './posture-ports.js';

const measuredSchema = z.strictObject({ bootCount: z.int().min(0), slot: z.enum(['A', 'B']), length: z.int().min(0), value: sha256HexSchema });

let agentVersionCache: string | undefined;
/** The agent's own version (its package.json). */
export async function agentVersion(): Promise<string> {
  agentVersionCache ??= (JSON.parse((await readFileAtMost(join(projectRoot, 'package.json'), 256 * 1024, 'package.json')).toString('utf8')) as { version: string }).version;
  return agentVersionCache;
}

/** JSON with keys sorted at every level (numbers as JavaScript prints them): the same config gives the same bytes. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** sha256 of the canonical JSON of the agent's configuration (as loaded: defaults filled, paths resolved). */
export function configDigest(config: DeviceConfig): string {
  return createHash('sha256').update(stableJson(config)).digest('hex');
}

/** Enabled services: the configured list, or the entries of servicesDir (bounded, names checked), sorted and unique. */
export async function enabledServices(config: DeviceConfig['posture']): Promise<{ services: string[]; truncated: boolean }> {
  let names: string[] = config.services ?? [];
  if (!config.services && config.servicesDir) {
    const entries = await readdir(config.servicesDir).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? [] : Promise.reject(error)));
    names = entries.slice(0, 4 * POSTURE_LIMITS.services).map((e) => e.replace(/\.service$/, ''));
  }
  const valid = [...new Set(names.filter((n) => serviceNameSchema.safeParse(n).success))].sort();
  return { services: valid.slice(0, POSTURE_LIMITS.services), truncated: valid.length > POSTURE_LIMITS.services };
}

/** The boot measurement: the TPM's boot PCR, or the booted slot's digest (once per boot). */
async function bootMeasurement(device: Device, booted: 'A' | 'B', image: { length: number }, bootCount: number): Promise<Posture['bootMeasurement']> {
  const { config } = device;
  if (config.tpm) return { source: 'tpm-pcr', pcr: config.tpm.pcr, value: await readPcr(config.tpm, config.tpm.pcr) };
  const path = join(config.stateDir, 'posture.json');
  const cached = await readJsonFile(path, measuredSchema).catch(() => undefined);
  if (cached && cached.bootCount === bootCount && cached.slot === booted && cached.length === image.length) return { source: 'slot-digest', value: cached.value };
  const value = await sha256Of(device.slots[booted], image.length);
  await writeJsonFile(path, { bootCount, slot: booted, length: image.length, value });
  return { source: 'slot-digest', value };
}

/** The heartbeat's posture, or undefined when posture is off. A fact that cannot be read is left out as null, never guessed. */
export async function collectPosture(device: Device, input: { booted: 'A' | 'B'; image: { length: number }; bootCount: number }): Promise<Posture | undefined> {
  const { config } = device;
  if (!config.posture.enabled) return undefined;
  const ports = await listeningPorts(config.posture.procRoot, POSTURE_LIMITS.ports);
  const services = await enabledServices(config.posture);
  const trust = await readDeviceTrust(config).catch(() => undefined);
  return postureSchema.parse({
    agentVersion: await agentVersion(),
    bootMeasurement: await bootMeasurement(device, input.booted, input.image, input.bootCount).catch(() => null),
    trust: trust ? { rootVersion: trust.root.signed.version, targetsVersion: trust.seen.targets ?? null } : null,
    configDigest: configDigest(config),
    listening: ports.ports,
    services: services.services,
    truncated: ports.truncated || services.truncated,
  });
}
