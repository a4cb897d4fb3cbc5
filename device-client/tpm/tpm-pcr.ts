// PCRs and quotes on the device's TPM: reset and extend (the measured boot path), read, and a quote
// over chosen sha256 PCRs with the verifier's qualifying data, signed by the AK inside the TPM.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TPM_HANDLES, withScratch } from './tpm-keys.js';
import { runTpmTool, type TpmConnection } from './tpm-tool.js';

export interface TpmQuote {
  /** TPMS_ATTEST as the TPM signed it, base64. */
  message: string;
  /** ECDSA P-256 signature over sha256(message) by the AK, DER, base64. */
  signature: string;
  /** The quoted PCR values (sha256 bank), PCR number -> hex. */
  pcrs: Record<string, string>;
}

const hex32 = /^[0-9a-f]{64}$/;

/** Only resettable PCRs (16, 23) can be reset from software; the boot path does so at each simulated power-on. */
export async function resetPcr(tpm: TpmConnection, pcr: number): Promise<void> {
  await runTpmTool(tpm, 'tpm2_pcrreset', [String(pcr)]);
}

export async function extendPcr(tpm: TpmConnection, pcr: number, digestHex: string): Promise<void> {
  if (!hex32.test(digestHex)) throw new Error(`PCR event must be a sha256 digest in hex (got ${JSON.stringify(digestHex)})`);
  await runTpmTool(tpm, 'tpm2_pcrextend', [`${pcr}:sha256=${digestHex}`]);
}

export async function readPcr(tpm: TpmConnection, pcr: number): Promise<string> {
  const out = await runTpmTool(tpm, 'tpm2_pcrread', [`sha256:${pcr}`]);
  const found = new RegExp(`^\\s*${pcr}\\s*:\\s*0x([0-9A-Fa-f]{64})\\s*$`, 'm').exec(out);
  if (!found) throw new Error(`tpm2_pcrread sha256:${pcr}: no value in its output`);
  return found[1]!.toLowerCase();
}

/** A quote over `pcrs` (sha256 bank) carrying `qualifyingDataHex` (the verifier's nonce digest) as extraData. */
export async function quotePcrs(tpm: TpmConnection, pcrs: number[], qualifyingDataHex: string): Promise<TpmQuote> {
  if (!hex32.test(qualifyingDataHex)) throw new Error('qualifying data must be 32 bytes in hex');
  const sorted = [...new Set(pcrs)].sort((a, b) => a - b);
  return withScratch(async (dir) => {
    const [msg, sig, values] = ['quote.msg', 'quote.sig', 'quote.pcrs'].map((f) => join(dir, f)) as [string, string, string];
    await runTpmTool(tpm, 'tpm2_quote', ['-c', TPM_HANDLES.attestationKey, '-l', `sha256:${sorted.join(',')}`, '-q', qualifyingDataHex, '-m', msg, '-s', sig, '-o', values, '-g', 'sha256', '-f', 'plain', '-F', 'values']);
    await runTpmTool(tpm, 'tpm2_flushcontext', ['-s']);
    const raw = await readFile(values);
    const pcrValues: Record<string, string> = {};
    // -F values: -o writes the selected values back to back, 32 bytes each, in ascending PCR order.
    sorted.forEach((pcr, i) => (pcrValues[String(pcr)] = raw.subarray(i * 32, i * 32 + 32).toString('hex')));
    return { message: (await readFile(msg)).toString('base64'), signature: (await readFile(sig)).toString('base64'), pcrs: pcrValues };
  });
}
