// TPM2_MakeCredential computed without a TPM (TPM 2.0 Part 1, 24 "Credential Protection"; Part 3,
// 12.6), for an ECC endorsement key (what `tpm2_createek -G ecc` makes: P-256, nameAlg sha256,
// AES-128-CFB): the gateway wraps a random secret so that only the TPM holding the EK's private
// key can unwrap it, and only for an object whose name is the AK's (TPM2_ActivateCredential checks
// the name of the loaded object). Pure apart from the randomness it is handed.
//   ephemeral ECDH key e; Z = x(e · EK)               (the shared secret)
//   seed = KDFe(sha256, Z, "IDENTITY", x(e), x(EK), 256)
//   symKey = KDFa(sha256, seed, "STORAGE", name, "", 128); hmacKey = KDFa(sha256, seed, "INTEGRITY", "", "", 256)
//   encIdentity = AES-128-CFB(symKey, iv 0, TPM2B(secret)); integrity = HMAC(hmacKey, encIdentity || name)
//   credentialBlob = TPM2B(TPM2B(integrity) || encIdentity); encryptedSecret = TPM2B(TPM2B(x(e)) || TPM2B(y(e)))
import { createCipheriv, createECDH, createHash, createHmac, createPublicKey, randomBytes } from 'node:crypto';

/** tpm2-tools' file header for a credential (tpm2_makecredential -o, tpm2_activatecredential -i). */
const CREDENTIAL_FILE_MAGIC = 0xbadcc0de;

export class MakeCredentialError extends Error {
  override name = 'MakeCredentialError';
}

const u16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const tpm2b = (bytes: Buffer) => Buffer.concat([u16(bytes.length), bytes]);
/** Labels are NUL-terminated strings in the KDFs. */
const label = (text: string) => Buffer.from(`${text}\0`, 'latin1');

/** KDFa (Part 1, 11.4.10.2) with HMAC-SHA256 in counter mode. */
export function kdfa(key: Buffer, use: string, contextU: Buffer, contextV: Buffer, bits: number): Buffer {
  const out: Buffer[] = [];
  for (let i = 1; out.length * 32 * 8 < bits; i++) {
    out.push(createHmac('sha256', key).update(Buffer.concat([u32(i), label(use), contextU, contextV, u32(bits)])).digest());
  }
  return Buffer.concat(out).subarray(0, bits / 8);
}

/** KDFe (Part 1, 11.4.10.3) with SHA-256: the ECDH key derivation of SP800-56A. */
export function kdfe(z: Buffer, use: string, partyU: Buffer, partyV: Buffer, bits: number): Buffer {
  const out: Buffer[] = [];
  for (let i = 1; out.length * 32 * 8 < bits; i++) out.push(createHash('sha256').update(Buffer.concat([u32(i), z, label(use), partyU, partyV])).digest());
  return Buffer.concat(out).subarray(0, bits / 8);
}

/** The EK's public point (x, y, 32 bytes each) from its PEM; only P-256 EKs. */
function ekPoint(ekPem: string): { x: Buffer; y: Buffer } {
  let jwk;
  try {
    jwk = createPublicKey(ekPem).export({ format: 'jwk' });
  } catch (error) {
    throw new MakeCredentialError(`the EK public key does not parse: ${(error as Error).message}`);
  }
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.x || !jwk.y) throw new MakeCredentialError(`only ECC P-256 endorsement keys are supported (got ${jwk.kty} ${jwk.crv ?? ''})`);
  return { x: Buffer.from(jwk.x, 'base64url'), y: Buffer.from(jwk.y, 'base64url') };
}

export interface Credential {
  /** TPM2B_ID_OBJECT. */
  credentialBlob: Buffer;
  /** TPM2B_ENCRYPTED_SECRET (the ephemeral point). */
  encryptedSecret: Buffer;
}

/**
 * Wraps `secret` (at most 32 bytes) for the object named `name` (nameAlg || digest, sha256: 34
 * bytes) in the TPM holding the EK. `ephemeralPrivateKey` is for tests; default a fresh one.
 */
export function makeCredential(ekPem: string, name: Buffer, secret: Buffer, ephemeralPrivateKey?: Buffer): Credential {
  if (secret.length < 1 || secret.length > 32) throw new MakeCredentialError('the credential secret must be 1 to 32 bytes');
  if (name.length !== 34 || name.readUInt16BE(0) !== 0x000b) throw new MakeCredentialError('the object name must be a sha256 TPM name (0x000b || 32 bytes)');
  const ek = ekPoint(ekPem);
  const ecdh = createECDH('prime256v1');
  if (ephemeralPrivateKey) ecdh.setPrivateKey(ephemeralPrivateKey);
  else ecdh.generateKeys();
  const z = ecdh.computeSecret(Buffer.concat([Buffer.from([4]), ek.x, ek.y]));
  const ephemeral = ecdh.getPublicKey(); // 04 || x || y
  const ex = ephemeral.subarray(1, 33);
  const ey = ephemeral.subarray(33, 65);
  const seed = kdfe(z, 'IDENTITY', ex, ek.x, 256);
  const symKey = kdfa(seed, 'STORAGE', name, Buffer.alloc(0), 128);
  const hmacKey = kdfa(seed, 'INTEGRITY', Buffer.alloc(0), Buffer.alloc(0), 256);
  const cipher = createCipheriv('aes-128-cfb', symKey, Buffer.alloc(16));
  const encIdentity = Buffer.concat([cipher.update(tpm2b(secret)), cipher.final()]);
  const integrity = createHmac('sha256', hmacKey).update(Buffer.concat([encIdentity, name])).digest();
  return {
    credentialBlob: tpm2b(Buffer.concat([tpm2b(integrity), encIdentity])),
    encryptedSecret: tpm2b(Buffer.concat([tpm2b(ex), tpm2b(ey)])),
  };
}

/** The credential as tpm2-tools' file (what `tpm2_activatecredential -i` reads). */
export function credentialFile(credential: Credential): Buffer {
  return Buffer.concat([u32(CREDENTIAL_FILE_MAGIC), u32(1), credential.credentialBlob, credential.encryptedSecret]);
}

/** A fresh random secret for one activation. */
export function activationSecret(): Buffer {
  return randomBytes(32);
}
