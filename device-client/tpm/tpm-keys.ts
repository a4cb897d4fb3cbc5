// The device's keys inside its TPM. Two persistent keys, both made by the TPM from its own
// randomness and marked fixedTPM (the private halves cannot leave it, not even wrapped):
// the device key (ECDSA P-256, signs every envelope the agent sends) and the attestation key (AK,
// a restricted signing key under the endorsement key, signs only TPM-made quotes). Creating them
// is idempotent: the handles are looked up first, so a second run finds the same keys. The EK is
// the one the manufacturer certified (its certificate in the TCG NV index): ECC P-256 when that
// certificate is there, else RSA 2048 when its certificate is, else ECC without a certificate.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTpmTool, type TpmConnection } from './tpm-tool.js';

/** Persistent handles in the owner range (TCG: 0x81000000-0x817FFFFF); 0x81010001 is the usual EK slot, left free. */
export const TPM_HANDLES = { deviceKey: '0x81010002', attestationKey: '0x81010003' } as const;

const DEVICE_KEY_ATTRIBUTES = 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign|noda';

export interface TpmPublicKey {
  /** SPKI PEM of the public half. */
  pem: string;
  /** TPM name (nameAlg || digest of the public area), hex. */
  name: string;
  /** Qualified name (the hierarchy path): what a quote carries as its signer, hex. */
  qualifiedName: string;
}

export interface TpmKeys {
  deviceKey: TpmPublicKey;
  attestationKey: TpmPublicKey;
  /** The endorsement key's public half (PEM): the TPM's identity from manufacture. */
  endorsementKeyPem: string;
  /** Which default EK template (`tpm2_createek -G`): credential activation must load the same one. */
  endorsementKeyAlgorithm: EkAlgorithm;
  /** The manufacturer's certificate of that EK (DER, from NV), if the TPM holds one. */
  endorsementCertificate?: Buffer;
}

export type EkAlgorithm = 'ecc' | 'rsa';

/** TCG EK Credential Profile NV indices of the EK certificates of the default (low-range) templates. */
export const EK_CERTIFICATE_INDEX: Record<EkAlgorithm, string> = { ecc: '0x01c0000a', rsa: '0x01c00002' };

/** An EK certificate is ~1-1.5 KB; an NV index this large holds something else. */
export const MAX_EK_CERTIFICATE_BYTES = 4096;

async function definedNvIndices(tpm: TpmConnection): Promise<Set<number>> {
  const out = await runTpmTool(tpm, 'tpm2_getcap', ['handles-nv-index']);
  return new Set([...out.matchAll(/0x[0-9a-fA-F]+/g)].map((m) => Number.parseInt(m[0], 16)));
}

/** The EK the device attests with and its certificate, if any (ECC preferred, as before certificates). */
export async function endorsementKeyChoice(tpm: TpmConnection): Promise<{ algorithm: EkAlgorithm; certificate?: Buffer }> {
  const defined = await definedNvIndices(tpm);
  for (const algorithm of ['ecc', 'rsa'] as const) {
    const index = EK_CERTIFICATE_INDEX[algorithm];
    if (!defined.has(Number.parseInt(index, 16))) continue;
    const info = await runTpmTool(tpm, 'tpm2_nvreadpublic', [index]);
    const size = Number(/^\s*size:\s*(\d+)\s*$/m.exec(info)?.[1] ?? NaN);
    if (!(size > 0 && size <= MAX_EK_CERTIFICATE_BYTES)) throw new Error(`NV index ${index} (EK certificate) is ${size} bytes; at most ${MAX_EK_CERTIFICATE_BYTES} expected`);
    const certificate = await withScratch(async (dir) => {
      await runTpmTool(tpm, 'tpm2_nvread', [index, '-C', 'o', '-s', String(size), '-o', join(dir, 'ek.crt')]);
      return readFile(join(dir, 'ek.crt'));
    });
    return { algorithm, certificate };
  }
  return { algorithm: 'ecc' };
}

/** Runs `use` with a private scratch folder for context and output files, removed afterwards. */
export async function withScratch<T>(use: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'ota-tpm-'));
  try {
    return await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function persistentHandles(tpm: TpmConnection): Promise<Set<string>> {
  const out = await runTpmTool(tpm, 'tpm2_getcap', ['handles-persistent']);
  return new Set([...out.matchAll(/0x[0-9a-fA-F]{8}/g)].map((m) => m[0].toLowerCase()));
}

export async function readTpmPublic(tpm: TpmConnection, handle: string): Promise<TpmPublicKey> {
  return withScratch(async (dir) => {
    const out = await runTpmTool(tpm, 'tpm2_readpublic', ['-c', handle, '-f', 'pem', '-o', join(dir, 'key.pem')]);
    const field = (label: string) => {
      const found = new RegExp(`^${label}:\\s*([0-9a-f]+)\\s*$`, 'm').exec(out);
      if (!found) throw new Error(`tpm2_readpublic ${handle}: no "${label}" in its output`);
      return found[1]!;
    };
    return { pem: await readFile(join(dir, 'key.pem'), 'utf8'), name: field('name'), qualifiedName: field('qualified name') };
  });
}

/** The key's TPM2B_PUBLIC (tpm2-tools' tss format): the gateway hashes it into the name a credential is made for. */
export async function readTpmPublicArea(tpm: TpmConnection, handle: string): Promise<Buffer> {
  return withScratch(async (dir) => {
    await runTpmTool(tpm, 'tpm2_readpublic', ['-c', handle, '-f', 'tss', '-o', join(dir, 'key.tss')]);
    return readFile(join(dir, 'key.tss'));
  });
}

/** The three transient slots of a small TPM fill up: drop loaded objects and sessions after each step. */
async function flushTransient(tpm: TpmConnection): Promise<void> {
  await runTpmTool(tpm, 'tpm2_flushcontext', ['-t']);
  await runTpmTool(tpm, 'tpm2_flushcontext', ['-s']);
}

/** Makes the device key and the AK on first use; later runs find them. Returns their public halves. */
export async function ensureTpmKeys(tpm: TpmConnection): Promise<TpmKeys> {
  const present = await persistentHandles(tpm);
  const endorsement = await endorsementKeyChoice(tpm);
  const endorsementKeyPem = await withScratch(async (dir) => {
    const ek = join(dir, 'ek.ctx');
    // The EK comes from the TPM's endorsement seed: the same template gives the same key every time.
    await runTpmTool(tpm, 'tpm2_createek', ['-c', ek, '-G', endorsement.algorithm, '-u', join(dir, 'ek.pem'), '-f', 'pem']);
    if (!present.has(TPM_HANDLES.attestationKey)) {
      const ak = join(dir, 'ak.ctx');
      await runTpmTool(tpm, 'tpm2_createak', ['-C', ek, '-c', ak, '-G', 'ecc', '-g', 'sha256', '-s', 'ecdsa', '-u', join(dir, 'ak.pem'), '-f', 'pem']);
      await flushTransient(tpm);
      await runTpmTool(tpm, 'tpm2_evictcontrol', ['-C', 'o', '-c', ak, TPM_HANDLES.attestationKey]);
    }
    await flushTransient(tpm);
    return readFile(join(dir, 'ek.pem'), 'utf8');
  });
  if (!present.has(TPM_HANDLES.deviceKey)) {
    await withScratch(async (dir) => {
      const key = join(dir, 'device-key.ctx');
      await runTpmTool(tpm, 'tpm2_createprimary', ['-C', 'o', '-G', 'ecc256:ecdsa-sha256', '-a', DEVICE_KEY_ATTRIBUTES, '-c', key]);
      await runTpmTool(tpm, 'tpm2_evictcontrol', ['-C', 'o', '-c', key, TPM_HANDLES.deviceKey]);
      await flushTransient(tpm);
    });
  }
  return {
    deviceKey: await readTpmPublic(tpm, TPM_HANDLES.deviceKey),
    attestationKey: await readTpmPublic(tpm, TPM_HANDLES.attestationKey),
    endorsementKeyPem,
    endorsementKeyAlgorithm: endorsement.algorithm,
    ...(endorsement.certificate ? { endorsementCertificate: endorsement.certificate } : {}),
  };
}

/** ECDSA P-256 over SHA-256 of `bytes` with the device key, DER-encoded (X9.62), as the envelope carries it. */
export async function tpmSign(tpm: TpmConnection, bytes: Buffer): Promise<Buffer> {
  return withScratch(async (dir) => {
    await writeFile(join(dir, 'message'), bytes);
    await runTpmTool(tpm, 'tpm2_sign', ['-c', TPM_HANDLES.deviceKey, '-g', 'sha256', '-s', 'ecdsa', '-f', 'plain', '-o', join(dir, 'signature'), join(dir, 'message')]);
    return readFile(join(dir, 'signature'));
  });
}
