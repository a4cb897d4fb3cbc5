// Turns a service's x-ota recipe into something spawnable: argv with the binary
// resolved (PATH, then .tools/bin; `ota` is this project's CLI), environment, account.
// The fleet database may instead resolve to `embedded` when PostgreSQL is not installed.
import { isAbsolute, join, resolve } from 'node:path';
import { projectRoot } from '../platform/paths.js';
import { ToolNotFoundError, findTool } from '../platform/tools.js';
import { findPostgresBinaries, initDataDir, postgresAccount, postgresArgv, postgresUrl } from './postgres.js';
import type { ServiceDefinition } from './stackFile.js';

export type LaunchPlan =
  | { mode: 'process'; argv: string[]; env: NodeJS.ProcessEnv; cwd: string; uid?: number; gid?: number; url?: string }
  | { mode: 'embedded'; url: string; reason: string };

export interface LaunchContext {
  /** Directory of the stack file; native commands run there, as Compose resolves paths. */
  cwd: string;
  /** Base environment (process env plus overrides) for the children. */
  env: NodeJS.ProcessEnv;
  /** Appends to the service's log file (setup steps such as initdb). */
  log: (text: string) => void;
}

export function resolveExecutable(name: string, cwd: string): string[] {
  // The project's own CLI always runs from this checkout, compiled under dist/.
  if (name === 'ota') return [process.execPath, join(projectRoot, 'bin', 'ota.js')];
  if (name.includes('/')) return [isAbsolute(name) ? name : resolve(cwd, name)];
  const found = findTool(name);
  if (!found) throw new ToolNotFoundError(name);
  return [found];
}

export function planLaunch(service: ServiceDefinition, ctx: LaunchContext): LaunchPlan {
  const recipe = service.native;
  const env = { ...ctx.env, ...recipe.environment };
  if (recipe.driver === 'postgres') {
    const pgRecipe = recipe.postgres!;
    const bins = findPostgresBinaries();
    if (!bins) {
      return {
        mode: 'embedded',
        url: pgRecipe.embeddedUrl,
        reason: 'no PostgreSQL binaries found (initdb/postgres on PATH or /usr/lib/postgresql/*/bin); processes use embedded PGlite',
      };
    }
    const account = postgresAccount();
    initDataDir(pgRecipe, bins, account, ctx.log);
    return { mode: 'process', argv: postgresArgv(pgRecipe, bins), env, cwd: pgRecipe.dataDir, uid: account?.uid, gid: account?.gid, url: postgresUrl(pgRecipe) };
  }
  const [command, ...args] = recipe.command!;
  return { mode: 'process', argv: [...resolveExecutable(command!, ctx.cwd), ...args], env, cwd: ctx.cwd };
}
