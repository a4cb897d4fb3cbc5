// DSSE attestations: an in-toto Statement signed into a v0.3 bundle with @sigstore/sign's
// DSSEBundleBuilder (the statement is small, so the builder's whole-buffer API is fine).
import type { BundleLatest } from '@sigstore/bundle';
import { DSSEBundleBuilder } from '@sigstore/sign';
import { KeySigner } from './key-signer.js';
import { fulcioSigner, keylessWitnesses, withResolvedToken } from './keyless.js';
import { IN_TOTO_PAYLOAD_TYPE, inTotoStatementSchema, type InTotoStatement } from './in-toto.js';
import type { SigningMode } from './signing-mode.js';

export async function signStatement(statement: InTotoStatement, signing: SigningMode): Promise<BundleLatest> {
  // Validate before signing: a signed malformed statement would be rejected by every verifier.
  const payload = Buffer.from(JSON.stringify(inTotoStatementSchema.parse(statement)));
  let builder: DSSEBundleBuilder;
  if (signing.mode === 'key') {
    builder = new DSSEBundleBuilder({ signer: new KeySigner(signing.key), witnesses: [] });
  } else {
    const keyless = await withResolvedToken(signing);
    // certificateChain: false -> v0.3 bundle with the single leaf certificate.
    builder = new DSSEBundleBuilder({ signer: fulcioSigner(keyless), witnesses: keylessWitnesses(keyless), certificateChain: false });
  }
  const bundle = (await builder.create({ data: payload, type: IN_TOTO_PAYLOAD_TYPE })) as BundleLatest;
  if (bundle.content.$case === 'dsseEnvelope') {
    // The builder copies the key hint into the DSSE signature's keyid. cosign (go-securesystemslib)
    // skips signatures whose keyid is not its SSH-style fingerprint of the --key, so leave keyid
    // empty (it is not signed); verifiers find the key via verificationMaterial.publicKey.hint.
    for (const signature of bundle.content.dsseEnvelope.signatures) signature.keyid = '';
  }
  return bundle;
}
