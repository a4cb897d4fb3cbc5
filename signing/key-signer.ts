// Adapts an on-disk (or ephemeral) P-256 key to @sigstore/sign's Signer interface, which the
// DSSE bundle builder and FulcioSigner call with the bytes to sign.
import { sign as cryptoSign } from 'node:crypto';
import type { Signature, Signer } from '@sigstore/sign';
import type { SigningKey } from './keys.js';

export class KeySigner implements Signer {
  constructor(
    private readonly key: SigningKey,
    /** false for Fulcio's key holder: the bundle gets the certificate, not a key hint. */
    private readonly withHint = true,
  ) {}

  async sign(data: Buffer): Promise<Signature> {
    return {
      signature: cryptoSign('sha256', data, this.key.privateKey),
      key: this.withHint
        ? { $case: 'publicKey', publicKey: this.key.publicKeyPem, hint: this.key.hint }
        : { $case: 'publicKey', publicKey: this.key.publicKeyPem },
    };
  }
}
