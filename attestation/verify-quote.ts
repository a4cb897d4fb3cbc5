// Is this quote good evidence that this device booted a release it may run? Pure: everything it
// needs is passed in (the registered AK, the nonce this request spent, the allowed measurements,
// the last accepted clock), and every refusal has its own code. Checked in this order:
//   structure -> signer is this device's AK -> AK signature -> nonce -> PCR values vs digest ->
//   PCR values vs the releases the device may run -> boot counters never go back.
import { createHash, createPublicKey, verify } from 'node:crypto';
import { quoteQualifyingData } from '../schemas/attestation-api.js';
import { AttestParseError, parseQuoteAttest, TPM_ALG_SHA256, type QuoteAttest } from './tpm-attest.js';

export type QuoteFailureCode =
  | 'QUOTE_MALFORMED'
  | 'AK_NOT_REGISTERED'
  | 'QUOTE_WRONG_AK'
  | 'QUOTE_SIGNATURE_INVALID'
  | 'QUOTE_NONCE_MISMATCH'
  | 'QUOTE_PCR_DIGEST_MISMATCH'
  | 'PCR_UNEXPECTED'
  | 'BOOT_COUNTER_WENT_BACK';

export interface SubmittedQuote {
  /** TPMS_ATTEST, base64. */
  message: string;
  /** ECDSA signature over sha256(message), DER, base64. */
  signature: string;
  /** Claimed sha256-bank PCR values, PCR number -> hex. */
  pcrs: Record<string, string>;
}

export interface RegisteredAk {
  pem: string;
  qualifiedName: string;
}

/** What a release's measured boot leaves in the boot PCR (its manifest's bootMeasurement). */
export interface AllowedMeasurement {
  version: string;
  pcr: number;
  value: string;
}

export interface BootCounters {
  resetCount: number;
  restartCount: number;
  clock: string;
}

export interface QuoteCheckInput {
  quote: SubmittedQuote;
  /** The nonce this request spent at the gateway (single use, unexpired: checked before). */
  nonce: string;
  ak: RegisteredAk | undefined;
  allowed: AllowedMeasurement[];
  /** Counters of the last accepted quote from this device, if any. */
  previous?: BootCounters;
}

export interface QuoteEvidence {
  pcrs: Record<string, string>;
  qualifiedSigner?: string;
  counters?: BootCounters;
  safe?: boolean;
  firmwareVersion?: string;
}

export type QuoteVerdict =
  | { ok: true; version: string; evidence: QuoteEvidence }
  | { ok: false; code: QuoteFailureCode; detail: string; evidence: QuoteEvidence; pcr?: number; expected?: string[] };

const HEX32 = /^[0-9a-f]{64}$/;

export function verifyQuote(input: QuoteCheckInput): QuoteVerdict {
  const claimed = input.quote.pcrs;
  const base: QuoteEvidence = { pcrs: claimed };
  const fail = (code: QuoteFailureCode, detail: string, evidence: QuoteEvidence, extra: { pcr?: number; expected?: string[] } = {}): QuoteVerdict => ({ ok: false, code, detail, evidence, ...extra });

  let attest: QuoteAttest;
  const message = Buffer.from(input.quote.message, 'base64');
  try {
    attest = parseQuoteAttest(message);
  } catch (error) {
    if (error instanceof AttestParseError) return fail('QUOTE_MALFORMED', error.message, base);
    throw error;
  }
  const counters: BootCounters = { resetCount: attest.resetCount, restartCount: attest.restartCount, clock: attest.clock.toString() };
  const evidence: QuoteEvidence = { pcrs: claimed, qualifiedSigner: attest.qualifiedSigner, counters, safe: attest.safe, firmwareVersion: attest.firmwareVersion };

  if (!input.ak) return fail('AK_NOT_REGISTERED', 'no attestation key is registered for this device', evidence);
  if (attest.qualifiedSigner !== input.ak.qualifiedName.toLowerCase()) {
    return fail('QUOTE_WRONG_AK', `quote signed by key ${attest.qualifiedSigner}, the device's registered AK is ${input.ak.qualifiedName}`, evidence);
  }
  let signatureOk = false;
  try {
    signatureOk = verify('sha256', message, { key: createPublicKey(input.ak.pem), dsaEncoding: 'der' }, Buffer.from(input.quote.signature, 'base64'));
  } catch {
    signatureOk = false;
  }
  if (!signatureOk) return fail('QUOTE_SIGNATURE_INVALID', "signature does not verify with the device's registered AK", evidence);

  const wantNonce = quoteQualifyingData(input.nonce);
  if (attest.extraData !== wantNonce) {
    return fail('QUOTE_NONCE_MISMATCH', `quote carries qualifying data ${attest.extraData || '(none)'}, this challenge is ${wantNonce} (an old quote replayed?)`, evidence);
  }

  const selected = attest.selections.filter((s) => s.hashAlg === TPM_ALG_SHA256).flatMap((s) => s.pcrs);
  if (attest.selections.some((s) => s.hashAlg !== TPM_ALG_SHA256)) return fail('QUOTE_MALFORMED', 'quote selects PCRs of a bank other than sha256', evidence);
  const claimedPcrs = Object.keys(claimed).map(Number).sort((a, b) => a - b);
  if (claimedPcrs.join(',') !== selected.join(',') || Object.values(claimed).some((v) => !HEX32.test(v))) {
    return fail('QUOTE_PCR_DIGEST_MISMATCH', `claimed PCRs ${claimedPcrs.join(',') || '(none)'} are not the quoted ${selected.join(',') || '(none)'}`, evidence);
  }
  const digest = createHash('sha256');
  for (const pcr of selected) digest.update(Buffer.from(claimed[String(pcr)]!, 'hex'));
  if (digest.digest('hex') !== attest.pcrDigest) return fail('QUOTE_PCR_DIGEST_MISMATCH', 'claimed PCR values do not hash to the quoted PCR digest', evidence);

  const match = input.allowed.find((m) => claimed[String(m.pcr)] === m.value);
  if (!match) {
    const pcr = input.allowed[0]?.pcr ?? selected[0] ?? 0;
    const expected = input.allowed.filter((m) => m.pcr === pcr).map((m) => `${m.version}=${m.value}`);
    return fail('PCR_UNEXPECTED', `PCR ${pcr} is ${claimed[String(pcr)] ?? '(not quoted)'}, which no release this device may run measures to`, evidence, { pcr, expected });
  }

  const prev = input.previous;
  if (prev) {
    const back =
      attest.resetCount < prev.resetCount ||
      (attest.resetCount === prev.resetCount && (attest.restartCount < prev.restartCount || attest.clock < BigInt(prev.clock)));
    if (back) {
      return fail('BOOT_COUNTER_WENT_BACK', `TPM counters went back (reset ${attest.resetCount}/restart ${attest.restartCount}/clock ${attest.clock} after ${prev.resetCount}/${prev.restartCount}/${prev.clock}): a replayed quote or a replaced TPM state`, evidence);
    }
  }
  return { ok: true, version: match.version, evidence };
}
