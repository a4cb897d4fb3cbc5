// Runs a bootloader tool (fw_printenv, fw_setenv, mkenvimage, grub-editenv) with its arguments as
// an array (no shell), and turns failures into errors that say which tool, why, and what to install.
import { execFile } from 'node:child_process';

const PACKAGE_OF: Record<string, string> = {
  fw_printenv: 'libubootenv-tool',
  fw_setenv: 'libubootenv-tool',
  mkenvimage: 'u-boot-tools',
  'grub-editenv': 'grub-common',
};

export class BootToolError extends Error {
  override name = 'BootToolError';
  constructor(message: string, readonly tool: string, readonly exitCode: number | null, readonly stderr: string) {
    super(message);
  }
}

export function runBootTool(tool: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(tool, args, { encoding: 'utf8', maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        const pkg = PACKAGE_OF[tool];
        return reject(new BootToolError(`${tool} not found on PATH${pkg ? ` (Debian package ${pkg})` : ''}`, tool, null, ''));
      }
      const exitCode = typeof error.code === 'number' ? error.code : null;
      const detail = stderr.trim() || stdout.trim() || error.message;
      reject(new BootToolError(`${tool} ${args.join(' ')} failed (exit ${exitCode ?? error.signal}): ${detail}`, tool, exitCode, stderr));
    });
  });
}
