// Child process for bench/run.mjs: streams one large object through the artifact store
// (putBlob from a generated stream, then getStream hashed on the fly) and reports times and
// this process's memory. A child of its own so its peak RSS (VmHWM) is the transfer's alone.
//
// Protocol (IPC): parent sends {backend: 'local', dir} or {backend: 's3', endpoint, bucket,
// accessKeyId, secretAccessKey, region, partSizeMiB?}, plus bytes; the child sends
// {type: 'progress', phase, bytesDone, bytesTotal} messages, then {type: 'result', ...} or
// {type: 'error', message}.
// @ts-check
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

const CHUNK = 1024 * 1024;

function procStatusBytes(field) {
  const kb = new RegExp(`^${field}:\\s*(\\d+)\\s*kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return kb ? Number(kb) * 1024 : NaN;
}

function send(message) {
  return new Promise((resolve) => (process.send ? process.send(message, () => resolve(undefined)) : resolve(undefined)));
}

/** Deterministic bytes in fresh 1 MiB chunks (a producer must not reuse buffers the consumer may hold). */
async function* generated(total, digest) {
  const pattern = createHash('sha512').update('edge-ota bench').digest();
  const base = Buffer.alloc(CHUNK);
  for (let i = 0; i < CHUNK; i += pattern.length) pattern.copy(base, i);
  const hash = createHash('sha256');
  for (let offset = 0, index = 0; offset < total; offset += CHUNK, index++) {
    const chunk = Buffer.from(base.subarray(0, Math.min(CHUNK, total - offset)));
    // Vary every chunk so no two are alike (no accidental dedup or compression anywhere).
    for (let at = 0; at + 8 <= chunk.length; at += 4096) chunk.writeUInt32BE(index, at), chunk.writeUInt32BE(at, at + 4);
    hash.update(chunk);
    yield chunk;
  }
  digest.sha256 = hash.digest('hex');
}

async function openStore(job) {
  const { openArtifactStore } = await import(new URL('../dist/stores/open-store.js', import.meta.url).href);
  const { localStoreConfigSchema, s3StoreConfigSchema } = await import(new URL('../dist/schemas/config.js', import.meta.url).href);
  if (job.backend === 'local') return openArtifactStore(localStoreConfigSchema.parse({ kind: 'local', dir: job.dir }));
  // Credentials through the ordinary AWS chain (env vars first), as in production.
  process.env.AWS_ACCESS_KEY_ID = job.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = job.secretAccessKey;
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  const { CreateBucketCommand, S3Client } = await import('@aws-sdk/client-s3');
  const admin = new S3Client({ endpoint: job.endpoint, region: job.region, forcePathStyle: true });
  await admin.send(new CreateBucketCommand({ Bucket: job.bucket }));
  admin.destroy();
  const config = { kind: 's3', bucket: job.bucket, endpoint: job.endpoint, region: job.region, forcePathStyle: true, prefix: 'ota/' };
  if (job.partSizeMiB) config.partSizeMiB = job.partSizeMiB;
  return openArtifactStore(s3StoreConfigSchema.parse(config));
}

process.once('message', async (/** @type {any} */ job) => {
  try {
    const store = await openStore(job);
    const baselineRss = procStatusBytes('VmRSS');
    const total = job.bytes;
    const source = {};
    let lastSent = 0;
    const tick = (phase, done) => {
      const now = Date.now();
      if (now - lastSent >= 250 || done === total) {
        lastSent = now;
        void send({ type: 'progress', phase, bytesDone: done, bytesTotal: total });
      }
    };

    const upStarted = performance.now();
    const ref = await store.putBlob(generated(total, source), { onProgress: (bytes) => tick('upload', bytes) });
    const uploadMs = performance.now() - upStarted;
    const afterUploadHwm = procStatusBytes('VmHWM');

    const downStarted = performance.now();
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of await store.getStream(ref.key)) {
      hash.update(chunk);
      size += chunk.length;
      tick('download', size);
    }
    const downloadMs = performance.now() - downStarted;
    const downloaded = hash.digest('hex');
    await store.close();

    if (ref.size !== total || ref.sha256 !== source.sha256) throw new Error(`upload stored ${ref.size} bytes with sha256 ${ref.sha256}, expected ${total} / ${source.sha256}`);
    if (size !== total || downloaded !== source.sha256) throw new Error(`download gave ${size} bytes with sha256 ${downloaded}, expected ${total} / ${source.sha256}`);
    await send({
      type: 'result',
      result: {
        bytes: total,
        sha256: source.sha256,
        uploadMs,
        downloadMs,
        baselineRssBytes: baselineRss,
        uploadPeakRssBytes: afterUploadHwm,
        peakRssBytes: procStatusBytes('VmHWM'),
        verified: true,
      },
    });
  } catch (err) {
    await send({ type: 'error', message: err instanceof Error ? err.stack ?? err.message : String(err) });
  }
  process.disconnect();
});
