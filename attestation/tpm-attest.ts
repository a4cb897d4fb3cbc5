// Reads a TPMS_ATTEST quote structure (TPM 2.0 Part 2, 10.12) from untrusted bytes: bounded, every
// length checked before it is used, anything else refused. Only the quote type is accepted.
//   magic u32 (TPM_GENERATED_VALUE) | type u16 (TPM_ST_ATTEST_QUOTE) | qualifiedSigner TPM2B_NAME |
//   extraData TPM2B_DATA | clockInfo (clock u64, resetCount u32, restartCount u32, safe u8) |
//   firmwareVersion u64 | TPMS_QUOTE_INFO (TPML_PCR_SELECTION, pcrDigest TPM2B_DIGEST)

export const TPM_GENERATED_VALUE = 0xff544347;
export const TPM_ST_ATTEST_QUOTE = 0x8018;
export const TPM_ALG_SHA256 = 0x000b;
/** A quote over a few PCRs is ~150 bytes; anything near this is not a quote. */
export const MAX_ATTEST_BYTES = 1024;

export interface PcrSelection {
  hashAlg: number;
  pcrs: number[];
}

export interface QuoteAttest {
  qualifiedSigner: string;
  extraData: string;
  clock: bigint;
  resetCount: number;
  restartCount: number;
  safe: boolean;
  firmwareVersion: string;
  selections: PcrSelection[];
  pcrDigest: string;
}

export class AttestParseError extends Error {
  override name = 'AttestParseError';
}

class Reader {
  private at = 0;
  constructor(private readonly bytes: Buffer) {}
  private need(n: number, what: string): void {
    if (this.at + n > this.bytes.length) throw new AttestParseError(`quote ends inside ${what} (offset ${this.at}, ${n} bytes needed, ${this.bytes.length} in all)`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.bytes.readUInt8(this.at++);
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.bytes.readUInt16BE(this.at);
    this.at += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.bytes.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }
  u64(what: string): bigint {
    this.need(8, what);
    const v = this.bytes.readBigUInt64BE(this.at);
    this.at += 8;
    return v;
  }
  sized(what: string, max: number): Buffer {
    const size = this.u16(`${what} size`);
    if (size > max) throw new AttestParseError(`${what} is ${size} bytes, more than ${max}`);
    this.need(size, what);
    const v = this.bytes.subarray(this.at, this.at + size);
    this.at += size;
    return v;
  }
  done(): boolean {
    return this.at === this.bytes.length;
  }
}

export function parseQuoteAttest(bytes: Buffer): QuoteAttest {
  if (bytes.length > MAX_ATTEST_BYTES) throw new AttestParseError(`quote is ${bytes.length} bytes, more than ${MAX_ATTEST_BYTES}`);
  const r = new Reader(bytes);
  const magic = r.u32('magic');
  if (magic !== TPM_GENERATED_VALUE) throw new AttestParseError(`magic is 0x${magic.toString(16)}, not TPM_GENERATED_VALUE (not made by a TPM)`);
  const type = r.u16('type');
  if (type !== TPM_ST_ATTEST_QUOTE) throw new AttestParseError(`attestation type is 0x${type.toString(16)}, not a quote (0x8018)`);
  const qualifiedSigner = r.sized('qualifiedSigner', 68).toString('hex');
  const extraData = r.sized('extraData', 64).toString('hex');
  const clock = r.u64('clock');
  const resetCount = r.u32('resetCount');
  const restartCount = r.u32('restartCount');
  const safe = r.u8('safe') === 1;
  const firmwareVersion = r.u64('firmwareVersion').toString(16).padStart(16, '0');
  const count = r.u32('PCR selection count');
  if (count > 16) throw new AttestParseError(`PCR selection lists ${count} banks, more than 16`);
  const selections: PcrSelection[] = [];
  for (let i = 0; i < count; i++) {
    const hashAlg = r.u16('PCR selection hash');
    const size = r.u8('PCR select size');
    if (size > 4) throw new AttestParseError(`PCR select is ${size} bytes, more than 4`);
    const pcrs: number[] = [];
    for (let byte = 0; byte < size; byte++) {
      const bits = r.u8('PCR select');
      for (let bit = 0; bit < 8; bit++) if (bits & (1 << bit)) pcrs.push(byte * 8 + bit);
    }
    selections.push({ hashAlg, pcrs });
  }
  const pcrDigest = r.sized('pcrDigest', 64).toString('hex');
  if (!r.done()) throw new AttestParseError('bytes after the quote structure');
  return { qualifiedSigner, extraData, clock, resetCount, restartCount, safe, firmwareVersion, selections, pcrDigest };
}
