// Opens the configured fleet store for one command and closes it after, whatever happens.
import type { Command } from 'commander';
import { FleetStore } from '../../fleet/fleet-store.js';
import { configFrom } from '../context.js';

export async function withFleet<T>(command: Command, fn: (fleet: FleetStore) => Promise<T>): Promise<T> {
  const fleet = await FleetStore.open(configFrom(command).fleet.databaseUrl);
  try {
    return await fn(fleet);
  } finally {
    await fleet.close();
  }
}
