// Service log files: a header per start, and the tail shown when a service fails.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

export function appendLog(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, text.endsWith('\n') ? text : `${text}\n`);
}

export function logTail(file: string, lines = 15): string {
  if (!existsSync(file)) return '(no log output)';
  const all = readFileSync(file, 'utf8').trimEnd().split('\n');
  return all.slice(-lines).join('\n') || '(no log output)';
}
