// Shared plumbing for commands: the effective configuration from --config/--set/env.
import type { Command } from 'commander';
import { loadConfig } from '../config/load-config.js';

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
