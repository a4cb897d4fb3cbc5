// Shared plumbing for commands: the effective configuration from --config/--set/env.
import type { Command } from 'commander';
import { loadConfig } from '../config/load-config.js';
import { FleetStore } from '../fleet/fleet-store.js';

export interface GlobalOptions {
  config?: string;
  set?: string[];
}

/** `extra` overrides come from command flags (e.g. --key) and win over --set. */
export function configFrom(command: Command, extra: string[] = []) {
  // Options given before the command (program level) and after it (leaf level) both count.
  const own = command.opts() as GlobalOptions;
  const all = command.optsWithGlobals() as GlobalOptions;
  let root: Command = command;
  while (root.parent) root = root.parent;
  const top = root.opts() as GlobalOptions;
  return loadConfig({ file: own.config ?? top.config ?? all.config, overrides: [...(top.set ?? []), ...(own.set ?? []), ...extra] });
}

/** Opens the configured fleet database for one command and closes it after. */
export async function withFleetStore<T>(command: Command, fn: (fleet: FleetStore) => Promise<T>): Promise<T> {
  const fleet = await FleetStore.open(configFrom(command).fleet.databaseUrl);
  try {
    return await fn(fleet);
  } finally {
    await fleet.close();
  }
}
