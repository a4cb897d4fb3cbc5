// Reads a TPM2B_PUBLIC (TPM 2.0 Part 2, 12.2) of an ECC key from untrusted bytes and computes its
// TPM name (nameAlg || sha256(TPMT_PUBLIC)): what a credential is made for. An attestation key
// must be a restricted signing key that cannot leave its TPM (fixedTPM, fixedParent, made by the
// TPM) and must be the key the device registers as PEM. Bounded, every length checked.
import { createHash, createPublicKey } from 'node:crypto';

export const MAX_PUBLIC_BYTES = 512;
const TPM_ALG_ECC = 0x0023;
const TPM_ALG_SHA256 = 0x000b;
const TPM_ALG_NULL = 0x0010;
const TPM_ECC_NIST_P256 = 0x0003;

/** TPMA_OBJECT bits (Part 2, 8.3). */
export const TPMA = { fixedTPM: 1 << 1, fixedParent: 1 << 4, sensitiveDataOrigin: 1 << 5, restricted: 1 << 16, decrypt: 1 << 17, sign: 1 << 18 } as const;

export class TpmPublicError extends Error {
  override name = 'TpmPublicError';
}

export interface EccPublicArea {
  /** TPM name, hex (0x000b || sha256 of the TPMT_PUBLIC). */
  name: string;
  attributes: number;
  x: Buffer;
  y: Buffer;
}

export function parseEccPublic(bytes: Buffer): EccPublicArea {
  if (bytes.length > MAX_PUBLIC_BYTES) throw new TpmPublicError(`public area is ${bytes.length} bytes, more than ${MAX_PUBLIC_BYTES}`);
  let at = 0;
  const need = (n: number, what: string) => {
    if (at + n > bytes.length) throw new TpmPublicError(`public area ends inside ${what}`);
  };
  const u16 = (what: string) => {
    need(2, what);
    const v = bytes.readUInt16BE(at);
    at += 2;
    return v;
  };
  const u32 = (what: string) => {
    need(4, what);
    const v = bytes.readUInt32BE(at);
    at += 4;
    return v;
  };
  const sized = (what: string, max: number) => {
    const n = u16(`${what} size`);
    if (n > max) throw new TpmPublicError(`${what} is ${n} bytes, more than ${max}`);
    need(n, what);
    const v = bytes.subarray(at, at + n);
    at += n;
    return v;
  };
  const size = u16('size');
  if (size !== bytes.length - 2) throw new TpmPublicError(`TPM2B_PUBLIC says ${size} bytes, ${bytes.length - 2} follow`);
  const area = bytes.subarray(2);
  if (u16('type') !== TPM_ALG_ECC) throw new TpmPublicError('not an ECC key');
  if (u16('nameAlg') !== TPM_ALG_SHA256) throw new TpmPublicError('name algorithm is not sha256');
  const attributes = u32('objectAttributes');
  sized('authPolicy', 64);
  const symmetric = u16('symmetric');
  if (symmetric !== TPM_ALG_NULL) {
    u16('symmetric keyBits');
    u16('symmetric mode');
  }
  const scheme = u16('scheme');
  if (scheme !== TPM_ALG_NULL) u16('scheme hash');
  if (u16('curveID') !== TPM_ECC_NIST_P256) throw new TpmPublicError('curve is not NIST P-256');
  const kdf = u16('kdf');
  if (kdf !== TPM_ALG_NULL) u16('kdf hash');
  const x = sized('x', 32);
  const y = sized('y', 32);
  if (at !== bytes.length) throw new TpmPublicError('bytes after the public area');
  const name = Buffer.concat([Buffer.from([0x00, 0x0b]), createHash('sha256').update(area).digest()]).toString('hex');
  return { name, attributes, x: Buffer.from(x), y: Buffer.from(y) };
}

/**
 * The AK's name, once its public area is shown to be a TPM-bound restricted signing key and the
 * very key of `akPem`; otherwise a TpmPublicError saying which.
 */
export function attestationKeyName(publicArea: Buffer, akPem: string): string {
  const area = parseEccPublic(publicArea);
  const want = TPMA.fixedTPM | TPMA.fixedParent | TPMA.sensitiveDataOrigin | TPMA.restricted | TPMA.sign;
  if ((area.attributes & want) !== want || area.attributes & TPMA.decrypt) {
    throw new TpmPublicError(`attributes 0x${area.attributes.toString(16)} are not a restricted signing key fixed to its TPM (fixedTPM|fixedParent|sensitiveDataOrigin|restricted|sign, not decrypt)`);
  }
  const jwk = createPublicKey(akPem).export({ format: 'jwk' });
  const pad = (b: Buffer) => Buffer.concat([Buffer.alloc(32 - b.length), b]);
  if (jwk.crv !== 'P-256' || !pad(area.x).equals(Buffer.from(jwk.x ?? '', 'base64url')) || !pad(area.y).equals(Buffer.from(jwk.y ?? '', 'base64url'))) {
    throw new TpmPublicError('the public area is not the key of ak.pem');
  }
  return area.name;
}
