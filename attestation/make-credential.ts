// TPM2_MakeCredential computed without a TPM (TPM 2.0 Part 1, 24 "Credential Protection"; Part 3,
// 12.6), for the endorsement keys of the TCG default templates: ECC (`tpm2_createek -G ecc`, template
// L-2: P-256) and RSA (`tpm2_createek -G rsa`, template L-1: RSA 2048), both nameAlg sha256 and
// AES-128-CFB. The gateway wraps a random secret so that only the TPM holding the EK's private key
// can unwrap it, and only for an object whose name is the AK's (TPM2_ActivateCredential checks the
// name of the loaded object). Pure apart from the randomness it is handed.
//   ECC: ephemeral ECDH key e; Z = x(e · EK); seed = KDFe(sha256, Z, "IDENTITY", x(e), x(EK), 256);
//        encryptedSecret = TPM2B(TPM2B(x(e)) || TPM2B(y(e)))
//   RSA: seed = 32 random bytes; encryptedSecret = TPM2B(RSA-OAEP(sha256, label "IDENTITY\0", seed))
//   symKey = KDFa(sha256, seed, "STORAGE", name, "", 128); hmacKey = KDFa(sha256, seed, "INTEGRITY", "", "", 256)
//   encIdentity = AES-128-CFB(symKey, iv 0, TPM2B(secret)); integrity = HMAC(hmacKey, encIdentity || name)
//   credentialBlob = TPM2B(TPM2B(integrity) || encIdentity)
import { constants, createCipheriv, createECDH, createHash, createHmac, createPublicKey, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';

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

/** The EK as a key object; only the default-template EKs (ECC P-256, RSA 2048). */
function endorsementKey(ekPem: string): { kind: 'ecc'; x: Buffer; y: Buffer } | { kind: 'rsa'; key: KeyObject } {
  let key: KeyObject;
  try {
    key = createPublicKey(ekPem);
  } catch (error) {
    throw new MakeCredentialError(`the EK public key does not parse: ${(error as Error).message}`);
  }
  if (key.asymmetricKeyType === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength;
    if (bits !== 2048) throw new MakeCredentialError(`only RSA 2048 endorsement keys (template L-1) are supported (got RSA ${bits ?? '?'})`);
    return { kind: 'rsa', key };
  }
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.x || !jwk.y) throw new MakeCredentialError(`only ECC P-256 and RSA 2048 endorsement keys are supported (got ${jwk.kty} ${jwk.crv ?? ''})`);
  return { kind: 'ecc', x: Buffer.from(jwk.x, 'base64url'), y: Buffer.from(jwk.y, 'base64url') };
}

/** The label RSA-OAEP carries for a credential's seed (Part 1, 24.4: "IDENTITY" with its NUL). */
export const IDENTITY_LABEL = label('IDENTITY');

/** The seed and how it travels to the TPM: ECDH against an ECC EK, RSA-OAEP to an RSA EK. */
function seedFor(ek: ReturnType<typeof endorsementKey>, randomness?: Buffer): { seed: Buffer; encryptedSecret: Buffer } {
  if (ek.kind === 'rsa') {
    const seed = randomness ?? randomBytes(32);
    if (seed.length !== 32) throw new MakeCredentialError('an RSA credential seed is 32 bytes (the sha256 digest size)');
    const encrypted = publicEncrypt({ key: ek.key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: IDENTITY_LABEL }, seed);
    return { seed, encryptedSecret: tpm2b(encrypted) };
  }
  const ecdh = createECDH('prime256v1');
  if (randomness) ecdh.setPrivateKey(randomness);
  else ecdh.generateKeys();
  const z = ecdh.computeSecret(Buffer.concat([Buffer.from([4]), ek.x, ek.y]));
  const ephemeral = ecdh.getPublicKey(); // 04 || x || y
  const ex = ephemeral.subarray(1, 33);
  const ey = ephemeral.subarray(33, 65);
  return { seed: kdfe(z, 'IDENTITY', ex, ek.x, 256), encryptedSecret: tpm2b(Buffer.concat([tpm2b(ex), tpm2b(ey)])) };
}

export interface Credential {
  /** TPM2B_ID_OBJECT. */
  credentialBlob: Buffer;
  /** TPM2B_ENCRYPTED_SECRET (the ephemeral point). */
  encryptedSecret: Buffer;
}

/**
 * Wraps `secret` (at most 32 bytes) for the object named `name` (nameAlg || digest, sha256: 34
 * bytes) in the TPM holding the EK. `randomness` is for tests: the ECDH ephemeral private key (ECC
 * EK) or the 32-byte seed (RSA EK); default fresh.
 */
export function makeCredential(ekPem: string, name: Buffer, secret: Buffer, randomness?: Buffer): Credential {
  if (secret.length < 1 || secret.length > 32) throw new MakeCredentialError('the credential secret must be 1 to 32 bytes');
  if (name.length !== 34 || name.readUInt16BE(0) !== 0x000b) throw new MakeCredentialError('the object name must be a sha256 TPM name (0x000b || 32 bytes)');
  const { seed, encryptedSecret } = seedFor(endorsementKey(ekPem), randomness);
  const symKey = kdfa(seed, 'STORAGE', name, Buffer.alloc(0), 128);
  const hmacKey = kdfa(seed, 'INTEGRITY', Buffer.alloc(0), Buffer.alloc(0), 256);
  const cipher = createCipheriv('aes-128-cfb', symKey, Buffer.alloc(16));
  const encIdentity = Buffer.concat([cipher.update(tpm2b(secret)), cipher.final()]);
  const integrity = createHmac('sha256', hmacKey).update(Buffer.concat([encIdentity, name])).digest();
  return { credentialBlob: tpm2b(Buffer.concat([tpm2b(integrity), encIdentity])), encryptedSecret };
}

/** The credential as tpm2-tools' file (what `tpm2_activatecredential -i` reads). */
export function credentialFile(credential: Credential): Buffer {
  return Buffer.concat([u32(CREDENTIAL_FILE_MAGIC), u32(1), credential.credentialBlob, credential.encryptedSecret]);
}

/** A fresh random secret for one activation. */
export function activationSecret(): Buffer {
  return randomBytes(32);
}
