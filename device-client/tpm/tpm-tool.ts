// Runs one tpm2-tools command against the device's TPM: arguments as an array (no shell), the TCTI
// from the device config (e.g. "device:/dev/tpmrm0", or "swtpm:host=127.0.0.1,port=P" in tests),
// a timeout and a cap on what it may print, so a hung or chatty TPM stack cannot stall the agent.
import { execFile } from 'node:child_process';
import { CodedError } from '../../platform/coded-error.js';

export const TPM_TOOL_LIMITS = { timeoutMs: 30_000, outputBytes: 256 * 1024 } as const;

export class TpmToolError extends CodedError<'TPM_TOOL_FAILED' | 'TPM_TOOLS_MISSING'> {
  constructor(code: 'TPM_TOOL_FAILED' | 'TPM_TOOLS_MISSING', message: string, readonly tool: string) {
    super(code, message);
  }
}

export interface TpmConnection {
  /** TPM2TOOLS_TCTI for every command. */
  tcti: string;
}

export function runTpmTool(tpm: TpmConnection, tool: string, args: string[], options: { cwd?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      tool,
      args,
      {
        encoding: 'utf8',
        cwd: options.cwd,
        timeout: TPM_TOOL_LIMITS.timeoutMs,
        maxBuffer: TPM_TOOL_LIMITS.outputBytes,
        env: { ...process.env, TPM2TOOLS_TCTI: tpm.tcti },
      },
      (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
          return reject(new TpmToolError('TPM_TOOLS_MISSING', `${tool} not found on PATH (Debian package tpm2-tools)`, tool));
        }
        const why = error.killed ? `timed out after ${TPM_TOOL_LIMITS.timeoutMs} ms` : `exit ${String(error.code ?? error.signal)}`;
        const detail = (stderr.trim().split('\n').filter((l) => l.startsWith('ERROR')).pop() ?? stderr.trim().slice(-500)) || error.message;
        reject(new TpmToolError('TPM_TOOL_FAILED', `${tool} ${args.join(' ')} failed (${why}): ${detail}`, tool));
      },
    );
  });
}
