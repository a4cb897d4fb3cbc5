// verifyQuote over quotes recorded from swtpm (test/fixtures/attestation/quotes.json, made by
// test/support/record-attestation-fixtures.mjs): each refusal has its own code, and only a quote
// by the device's AK, over this nonce, measuring an allowed release, with counters moving forward passes.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { verifyQuote, type QuoteCheckInput } from '../../attestation/verify-quote.js';
import { parseQuoteAttest } from '../../attestation/tpm-attest.js';

const fx = JSON.parse(readFileSync(new URL('../fixtures/attestation/quotes.json', import.meta.url), 'utf8'));
const [n1, n2, n3] = fx.nonces as [string, string, string];
const allowed = [{ version: fx.release.version, pcr: 16, value: fx.release.bootPcr }];
const input = (over: Partial<QuoteCheckInput> = {}): QuoteCheckInput => ({ quote: fx.quotes.clean, nonce: n1, ak: fx.devices.a.ak, allowed, ...over });

describe('verifyQuote (recorded swtpm quotes)', () => {
  it('accepts a clean quote: names the release it measured and keeps the counters as evidence', () => {
    const verdict = verifyQuote(input());
    expect(verdict).toMatchObject({ ok: true, version: '1.0.0' });
    expect(verdict.evidence.pcrs['16']).toBe(fx.release.bootPcr);
    expect(verdict.evidence.counters?.resetCount).toBeGreaterThanOrEqual(0);
  });

  it('parses the TPMS_ATTEST: quote type, AK as signer, nonce digest, sha256 PCR 16', () => {
    const attest = parseQuoteAttest(Buffer.from(fx.quotes.clean.message, 'base64'));
    expect(attest.qualifiedSigner).toBe(fx.devices.a.ak.qualifiedName);
    expect(attest.selections).toEqual([{ hashAlg: 0x000b, pcrs: [16] }]);
  });

  it('wrong PCR (tampered slot): PCR_UNEXPECTED naming the PCR and the expected value', () => {
    const verdict = verifyQuote(input({ quote: fx.quotes.tampered, nonce: n2 }));
    expect(verdict).toMatchObject({ ok: false, code: 'PCR_UNEXPECTED', pcr: 16, expected: [`1.0.0=${fx.release.bootPcr}`] });
    expect(verdict.evidence.pcrs['16']).toBe(fx.tampered.bootPcr);
  });

  it('replayed quote (an old nonce): QUOTE_NONCE_MISMATCH', () => {
    expect(verifyQuote(input({ nonce: n2 }))).toMatchObject({ ok: false, code: 'QUOTE_NONCE_MISMATCH' });
  });

  it("another device's AK: QUOTE_WRONG_AK; no registered AK: AK_NOT_REGISTERED", () => {
    expect(verifyQuote(input({ quote: fx.quotes.otherDevice }))).toMatchObject({ ok: false, code: 'QUOTE_WRONG_AK' });
    expect(verifyQuote(input({ ak: undefined }))).toMatchObject({ ok: false, code: 'AK_NOT_REGISTERED' });
  });

  it('a signature that is not the AK\'s, or a changed message: QUOTE_SIGNATURE_INVALID', () => {
    expect(verifyQuote(input({ quote: { ...fx.quotes.clean, signature: fx.quotes.tampered.signature } }))).toMatchObject({ ok: false, code: 'QUOTE_SIGNATURE_INVALID' });
    // B's key under A's registered name: the signer field matches, the signature does not.
    expect(verifyQuote(input({ ak: { ...fx.devices.b.ak, qualifiedName: fx.devices.a.ak.qualifiedName } }))).toMatchObject({ ok: false, code: 'QUOTE_SIGNATURE_INVALID' });
  });

  it('claimed PCR values that are not what was quoted: QUOTE_PCR_DIGEST_MISMATCH', () => {
    const lie = { ...fx.quotes.tampered, pcrs: { '16': fx.release.bootPcr } };
    expect(verifyQuote(input({ quote: lie, nonce: n2 }))).toMatchObject({ ok: false, code: 'QUOTE_PCR_DIGEST_MISMATCH' });
    expect(verifyQuote(input({ quote: { ...fx.quotes.clean, pcrs: { '16': fx.release.bootPcr, '17': fx.release.bootPcr } } }))).toMatchObject({ ok: false, code: 'QUOTE_PCR_DIGEST_MISMATCH' });
  });

  it('bytes that are not a quote: QUOTE_MALFORMED, bounded', () => {
    for (const message of [Buffer.from('hello').toString('base64'), Buffer.alloc(5000).toString('base64'), Buffer.from(fx.quotes.clean.message, 'base64').subarray(0, 60).toString('base64')]) {
      expect(verifyQuote(input({ quote: { ...fx.quotes.clean, message } }))).toMatchObject({ ok: false, code: 'QUOTE_MALFORMED' });
    }
  });

  it('boot counters: a power cycle moves them forward (accepted); a quote older than the last accepted one is BOOT_COUNTER_WENT_BACK', () => {
    const later = verifyQuote(input({ quote: fx.quotes.afterPowerCycle, nonce: n3 }));
    expect(later.ok).toBe(true);
    const first = verifyQuote(input());
    expect(later.evidence.counters!.resetCount).toBeGreaterThan(first.evidence.counters!.resetCount);
    expect(verifyQuote(input({ previous: later.evidence.counters }))).toMatchObject({ ok: false, code: 'BOOT_COUNTER_WENT_BACK' });
    expect(verifyQuote(input({ quote: fx.quotes.afterPowerCycle, nonce: n3, previous: first.evidence.counters })).ok).toBe(true);
  });
});
