// Where the gateway's time goes: a V8 .cpuprofile (node --cpu-prof) summarised by self time into a
// few buckets. Each sample is charged to the first frame, from the leaf up, that names a bucket:
// so a JSON.parse inside the pg client counts as JSON, a native call inside the TLS layer as TLS.
// @ts-check
import { readFileSync } from 'node:fs';

/** @type {Array<[bucket: string, test: (frame: { functionName: string, url: string }) => boolean]>} */
const BUCKETS = [
  ['idle', (f) => f.functionName === '(idle)'],
  ['garbage collection', (f) => f.functionName === '(garbage collector)'],
  ['signature verification (device envelope)', (f) => f.url.includes('device-envelope.js') && f.functionName === 'verifyEnvelope'],
  ['signing the answer', (f) => f.url.includes('answer-signing.js') || (f.url.includes('device-envelope.js') && /sign|canonical/i.test(f.functionName))],
  ['device key cache', (f) => f.url.includes('device-key-cache.js')],
  ['client certificate check', (f) => f.functionName.endsWith('getPeerCertificate') || f.url.includes('client-certificate.js')],
  ['socket writes (writev to PostgreSQL, about two thirds, and to devices with TLS encryption: the write syscall wakes the reader; on a loaded machine also time descheduled there)', (f) => f.url === '' && /^(writev|writeBuffer|writeUtf8String|writeLatin1String)$/.test(f.functionName)],
  ['file I/O (the artifact store: release index, Range reads)', (f) => (f.url === '' && /^(openFileHandle|close|fstat|read|stat|lstat|open)$/.test(f.functionName)) || f.url.includes('internal/fs/')],
  ['JSON parse/stringify', (f) => f.url === '' && /^(parse|stringify)$/.test(f.functionName)],
  ['zod validation', (f) => f.url.includes('/zod/')],
  ['SQL: pg client and fleet queries', (f) => /\/node_modules\/pg(-protocol|-pool|-types)?\//.test(f.url) || f.url.includes('/dist/fleet/')],
  ['offer decision and release index', (f) => /checkin-offer\.js|release\/catalog\.js|\/stores\/|offer-cache\.js/.test(f.url)],
  ['TLS (handshakes, record layer)', (f) => /_tls_wrap|node:tls|internal\/tls/.test(f.url)],
  ['HTTP parser and responses', (f) => /_http_|node:http|internal\/http/.test(f.url)],
  ['sockets and streams (includes TLS encrypt/decrypt)', (f) => /node:net|internal\/stream|stream_base_commons|internal\/streams/.test(f.url)],
  ['other gateway code', (f) => f.url.includes('/dist/')],
  ['native, unattributed (TLS crypto, syscalls)', (f) => f.functionName === '(program)'],
];

/** Self-time shares by bucket (idle excluded from the denominator), heaviest first. */
export function summariseProfile(path) {
  const profile = JSON.parse(readFileSync(path, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const bucketOf = new Map();
  const classify = (id) => {
    if (bucketOf.has(id)) return bucketOf.get(id);
    const frame = byId.get(id).callFrame;
    const own = BUCKETS.find(([, test]) => test(frame))?.[0];
    const up = parent.get(id);
    const bucket = own ?? (up === undefined ? 'other (Node internals)' : classify(up));
    bucketOf.set(id, bucket);
    return bucket;
  };
  const micros = new Map();
  profile.samples.forEach((id, i) => {
    const bucket = classify(id);
    micros.set(bucket, (micros.get(bucket) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const idle = micros.get('idle') ?? 0;
  micros.delete('idle');
  const busy = [...micros.values()].reduce((a, b) => a + b, 0);
  const total = busy + idle;
  return {
    busySeconds: busy / 1e6,
    idleShare: total ? idle / total : 0,
    buckets: [...micros.entries()].sort((a, b) => b[1] - a[1]).map(([bucket, us]) => ({ bucket, seconds: us / 1e6, share: busy ? us / busy : 0 })),
  };
}
