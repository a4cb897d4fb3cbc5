// Runs the real `ota` binary (dist/) in a clean environment rooted at a temporary state folder.
import { execFile } from 'node:child_process';
import { OTA_BIN } from './dist.js';

export interface OtaRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** An `ota` runner for one state folder; `env` adds variables (a Temporal address, a task queue). */
export function otaIn(state: string, env: Record<string, string> = {}): (args: string[]) => Promise<OtaRun> {
  return (args) =>
    new Promise((resolve) => {
      const child = execFile(process.execPath, [OTA_BIN, ...args], { cwd: state, env: { PATH: process.env.PATH ?? '', HOME: state, OTA_STATE_DIR: state, ...env }, timeout: 180_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? (child.exitCode ?? 1) : 0, stdout, stderr }),
      );
    });
}
