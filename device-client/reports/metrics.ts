// Figures every report carries: boot count, crash count, uptime, free memory, and device-defined
// custom values. The default sampler reads the system; a simulator passes its own per device.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { freemem } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import type { ReportMetrics } from '../../schemas/device-api.js';
import { readJsonFile, writeJsonFile } from '../state/json-file.js';
import type { DeviceConfig } from '../config.js';
import { readUptimeSeconds } from '../health/uptime.js';

export interface MetricsSample {
  bootCount: number;
  metrics: ReportMetrics;
  custom: Record<string, string | number | boolean>;
}

export type MetricsSampler = () => Promise<MetricsSample>;

/** Stands in for the kernel's boot id where there is none: one boot per agent process. */
const PROCESS_ID = randomUUID();

const bootRecordSchema = z.object({ bootId: z.string(), bootCount: z.int().min(0) }).strict();

/**
 * Boots counted by the agent: Linux gives each boot a random id (/proc/sys/kernel/random/boot_id);
 * a new id means a new boot. Without that file (simulation) every agent process counts as one boot.
 */
export async function countBoot(stateDir: string, bootIdPath = '/proc/sys/kernel/random/boot_id', processBootId = PROCESS_ID): Promise<number> {
  const path = join(stateDir, 'boot-count.json');
  const bootId = (await readFile(bootIdPath, 'utf8').catch(() => processBootId)).trim();
  const record = await readJsonFile(path, bootRecordSchema).catch(() => undefined);
  if (record?.bootId === bootId) return record.bootCount;
  const bootCount = (record?.bootCount ?? 0) + 1;
  await writeJsonFile(path, { bootId, bootCount });
  return bootCount;
}

/** The default: system uptime and free memory, boot count from the boot id, no crash tracking yet. */
export function systemMetrics(config: DeviceConfig): MetricsSampler {
  return async () => ({
    bootCount: await countBoot(config.stateDir),
    metrics: {
      crashCount: 0,
      uptimeSeconds: Math.max(0, Math.floor(await readUptimeSeconds(config.health.uptimePath).catch(() => 0))),
      freeMemoryBytes: freemem(),
    },
    custom: {},
  });
}
