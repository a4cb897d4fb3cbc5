// Shared plumbing for commands: the effective configuration from --config/--set/env.
import type { Command } from 'commander';
import { loadConfig } from '../config/load-config.js';

export interface GlobalOptions {
  config?: string;
  set?: string[];
}

export function configFrom(command: Command) {
  const opts = command.optsWithGlobals() as GlobalOptions;
  return loadConfig({ file: opts.config, overrides: opts.set });
}
