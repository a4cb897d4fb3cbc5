// The anti-rollback floor in the TPM: an NV counter (TPM_NT_COUNTER) that the TPM itself only lets
// go up, so deleting or editing the agent's files, or re-provisioning, cannot lower it. The floor
// is the counter's value; raising it increments the counter (security versions are small numbers,
// bounded here). Reading a counter never defined (or never incremented) gives floor 0.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CodedError } from '../../platform/coded-error.js';
import { withScratch } from './tpm-keys.js';
import { runTpmTool, type TpmConnection } from './tpm-tool.js';

/** Increments one raise may take (one TPM command each). */
export const MAX_FLOOR_STEP = 1024;

export class TpmFloorError extends CodedError<'TPM_FLOOR_STEP_TOO_LARGE'> {}

export class TpmFloorCounter {
  constructor(private readonly tpm: TpmConnection & { floorIndex: string }) {}

  get index(): string {
    return this.tpm.floorIndex;
  }

  private async defined(): Promise<'absent' | 'unwritten' | 'written'> {
    const out = await runTpmTool(this.tpm, 'tpm2_getcap', ['handles-nv-index']);
    const wanted = Number.parseInt(this.tpm.floorIndex, 16);
    if (![...out.matchAll(/0x[0-9a-fA-F]+/g)].some((m) => Number.parseInt(m[0], 16) === wanted)) return 'absent';
    const info = await runTpmTool(this.tpm, 'tpm2_nvreadpublic', [this.tpm.floorIndex]);
    return /friendly:.*\bwritten\b/.test(info) ? 'written' : 'unwritten';
  }

  async read(): Promise<number> {
    if ((await this.defined()) !== 'written') return 0;
    return withScratch(async (dir) => {
      const file = join(dir, 'counter');
      await runTpmTool(this.tpm, 'tpm2_nvread', [this.tpm.floorIndex, '-C', 'o', '-o', file]);
      const value = (await readFile(file)).readBigUInt64BE(0);
      return Number(value > BigInt(Number.MAX_SAFE_INTEGER) ? BigInt(Number.MAX_SAFE_INTEGER) : value);
    });
  }

  /** Makes the counter at least `floor`; never lowers it (the TPM could not). */
  async raise(floor: number): Promise<void> {
    if ((await this.defined()) === 'absent') {
      await runTpmTool(this.tpm, 'tpm2_nvdefine', [this.tpm.floorIndex, '-C', 'o', '-s', '8', '-a', 'ownerread|ownerwrite|nt=counter']);
    }
    const current = await this.read();
    if (floor - current > MAX_FLOOR_STEP) {
      throw new TpmFloorError('TPM_FLOOR_STEP_TOO_LARGE', `raising the TPM floor from ${current} to ${floor} takes more than ${MAX_FLOOR_STEP} increments`);
    }
    for (let value = current; value < floor; value++) await runTpmTool(this.tpm, 'tpm2_nvincrement', [this.tpm.floorIndex, '-C', 'o']);
  }
}
