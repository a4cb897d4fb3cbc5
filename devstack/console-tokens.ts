// <state>/dev/console-tokens.json: the ids of the short-lived API tokens `ota dev console` created,
// so that `ota dev down` revokes them with the stack's admin token (ids only: the secrets are never kept).
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** A few dozen ids at most; anything far larger is not ours. */
const MAX_BYTES = 64 * 1024;

export function consoleTokensPath(stateDir: string): string {
  return join(stateDir, 'dev', 'console-tokens.json');
}

export function readConsoleTokens(stateDir: string): string[] {
  try {
    if (statSync(consoleTokensPath(stateDir)).size > MAX_BYTES) return [];
    const ids = JSON.parse(readFileSync(consoleTokensPath(stateDir), 'utf8')) as unknown;
    return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string') : [];
  } catch {
    return [];
  }
}

export function recordConsoleToken(stateDir: string, tokenId: string): void {
  const file = consoleTokensPath(stateDir);
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify([...readConsoleTokens(stateDir), tokenId])}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

export function forgetConsoleTokens(stateDir: string): void {
  rmSync(consoleTokensPath(stateDir), { force: true });
}
