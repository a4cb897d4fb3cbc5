// Offline Sigstore (Fulcio + CT log, Rekor, TSA) built from @sigstore/mock and served through
// nock, plus the trusted_root.json that pins exactly these services. Works around the mock's
// known bugs (see the shared sigstore notes): TSA genTime with trimmed milliseconds (give it a
// clock with ms = 0) and `dsse` entries stored unconverted (convert them as real Rekor does).
import { createHash, generateKeyPairSync, type KeyPairKeyObjectResult } from 'node:crypto';
import { fulcioHandler, initializeCA, initializeCTLog, initializeTLog, initializeTSA, rekorHandler, tsaHandler } from '@sigstore/mock';
import type { TLog } from '@sigstore/mock/dist/rekor/index.js';
import nock from 'nock';
import type { LocalTrustRootJSON } from '../../signing/trust-root.js';
import { emptyTrustRoot } from '../../signing/trust-root.js';

type Handler = { path: string; fn: (body: string) => Promise<{ statusCode: number; response: string | Buffer; contentType?: string }> };

export interface MockSigstore {
  fulcioURL: string;
  rekorURL: string;
  tsaURL: string;
  /** Trust root pinning the mock CA, Rekor, CT log and TSA. */
  trustRoot: LocalTrustRootJSON;
  stop(): void;
}

const p256 = (): KeyPairKeyObjectResult => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const spkiDer = (k: KeyPairKeyObjectResult) => k.publicKey.export({ format: 'der', type: 'spki' });
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

/** An unsigned JWT with the claims Fulcio reads (the mock decodes, it does not verify). */
export function fakeIdentityToken(subject: string, issuer: string): string {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ iss: issuer, sub: subject, aud: 'sigstore', iat: now, exp: now + 600 })}.sig`;
}

/** Real Rekor stores a dsse entry as hashes + signatures, not the proposed envelope. */
function convertDsseEntry(entry: any): object {
  if (entry?.kind !== 'dsse' || !entry.spec?.proposedContent) return entry;
  const { envelope, verifiers } = entry.spec.proposedContent as { envelope: string; verifiers: string[] };
  const env = JSON.parse(envelope) as { payload: string; signatures: Array<{ sig: string }> };
  const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
  return {
    apiVersion: entry.apiVersion,
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: sha256(envelope) },
      payloadHash: { algorithm: 'sha256', value: sha256(Buffer.from(env.payload, 'base64')) },
      signatures: env.signatures.map((s, i) => ({ signature: s.sig, verifier: verifiers[i] ?? verifiers[0] })),
    },
  };
}

function serve(base: string, handler: Handler): void {
  nock(base)
    .persist()
    .post(handler.path)
    .reply(async (_uri, body) => {
      const { statusCode, response, contentType } = await handler.fn(typeof body === 'string' ? body : JSON.stringify(body));
      return [statusCode, response, { 'Content-Type': contentType ?? 'text/plain' }];
    });
}

async function createAuthorities(clock: Date, rekorURL: string, keys: Record<'caKeys' | 'ctKeys' | 'tlogKeys' | 'tsaKeys', ReturnType<typeof p256>>) {
  const ctLog = await initializeCTLog(keys.ctKeys, clock);
  const ca = await initializeCA(keys.caKeys, ctLog, clock);
  const tlog = await initializeTLog(rekorURL, keys.tlogKeys);
  const tsa = await initializeTSA(keys.tsaKeys, clock);
  return { ctLog, ca, tlog, tsa };
}

/**
 * Starts the mock services under `name`.mock.test hosts. `caClock` backdates certificates
 * (expired-certificate tests); the TSA uses the same whole-second clock as the CA so its
 * timestamps fall inside the certificate's validity.
 */
export async function startMockSigstore(options: { name?: string; caClock?: Date } = {}): Promise<MockSigstore> {
  const name = options.name ?? 'sigstore';
  const fulcioURL = `https://fulcio.${name}.mock.test`;
  const rekorURL = `https://rekor.${name}.mock.test`;
  const tsaURL = `https://tsa.${name}.mock.test`;
  const [caKeys, ctKeys, tlogKeys, tsaKeys] = [p256(), p256(), p256(), p256()];
  // The mock's CA and TSA certificates start at the real time of their creation (whole seconds),
  // while every certificate and timestamp they issue carries `clock`: if creating them crossed into
  // the next second (a loaded machine), timestamps would predate the TSA's own certificate and
  // verify as MISSING_TIMESTAMP. So they are made again until they fit in clock's second.
  let clock: Date;
  let authorities: Awaited<ReturnType<typeof createAuthorities>>;
  for (let attempt = 1; ; attempt++) {
    clock = new Date(Math.floor((options.caClock ?? new Date()).getTime() / 1000) * 1000);
    authorities = await createAuthorities(clock, rekorURL, { caKeys, ctKeys, tlogKeys, tsaKeys });
    if (options.caClock || Math.floor(Date.now() / 1000) * 1000 === clock.getTime() || attempt === 20) break;
  }
  const { ctLog, ca, tlog, tsa } = authorities;
  const convertingTLog: TLog = { publicKey: tlog.publicKey, log: (entry) => tlog.log(convertDsseEntry(entry)) };

  // Only loopback may leave the process while the mock is up: no accidental real Sigstore calls.
  nock.disableNetConnect();
  nock.enableNetConnect(/^(127\.0\.0\.1|localhost)(:\d+)?$/);
  serve(fulcioURL, fulcioHandler(ca) as Handler);
  serve(rekorURL, rekorHandler(convertingTLog) as Handler);
  serve(tsaURL, tsaHandler(tsa) as Handler);

  const validFor = { start: new Date(clock.getTime() - 3600_000).toISOString() };
  const trustRoot: LocalTrustRootJSON = {
    ...emptyTrustRoot(),
    certificateAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
        uri: fulcioURL,
        certChain: { certificates: [{ rawBytes: b64(ca.rootCertificate) }] },
        validFor,
      },
    ],
    tlogs: [
      {
        baseUrl: rekorURL,
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: b64(spkiDer(tlogKeys)), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor },
        logId: { keyId: b64(createHash('sha256').update(spkiDer(tlogKeys)).digest()) },
      },
    ],
    ctlogs: [
      {
        baseUrl: `https://ctfe.${name}.mock.test`,
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: b64(spkiDer(ctKeys)), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor },
        logId: { keyId: b64(ctLog.logID) },
      },
    ],
    timestampAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'tsa' },
        uri: tsaURL,
        certChain: { certificates: [{ rawBytes: b64(tsa.intCertificate) }, { rawBytes: b64(tsa.rootCertificate) }] },
        validFor,
      },
    ],
  };

  return {
    fulcioURL,
    rekorURL,
    tsaURL,
    trustRoot,
    // nock state is per test-file worker, so clearing it touches nobody else's tests.
    stop: () => {
      nock.cleanAll();
      nock.enableNetConnect();
    },
  };
}
