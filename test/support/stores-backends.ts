// The backends the store contract suite runs against, each with a way to look *under* the
// store's own API for leftovers of interrupted writes (temp files, staging objects,
// unfinished multipart uploads), which list() is designed to hide.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import {
  CreateBucketCommand,
  ListMultipartUploadsCommand,
  paginateListObjectsV2,
  S3Client,
} from '@aws-sdk/client-s3';
import { localStoreConfigSchema, s3StoreConfigSchema } from '../../schemas/config.js';
import type { ArtifactStore } from '../../stores/artifact-store.js';
import { openArtifactStore } from '../../stores/open-store.js';
import { startVersityGw, type VersityGw } from './versitygw.js';

export interface BackendUnderTest {
  store: ArtifactStore;
  /** Raw leftovers of in-flight or interrupted writes, as the backend itself sees them. */
  leftovers(): Promise<string[]>;
  dispose(): Promise<void>;
}

export interface BackendFactory {
  name: string;
  open(): Promise<BackendUnderTest>;
}

async function walkFiles(root: string, dir = root): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await walkFiles(root, path)));
    else found.push(relative(root, path));
  }
  return found;
}

export const localBackend: BackendFactory = {
  name: 'local',
  async open() {
    const dir = await mkdtemp(join(tmpdir(), 'ota-store-'));
    const store = openArtifactStore(localStoreConfigSchema.parse({ kind: 'local', dir }));
    return {
      store,
      leftovers: async () => (await walkFiles(dir)).filter((path) => path.split('/').some((s) => s.startsWith('.'))),
      dispose: async () => {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
};

let bucketCounter = 0;

/** One versitygw per test file; each open() gets a fresh bucket on it. */
export function s3Backend(gateway: () => VersityGw, extra: Record<string, unknown> = {}): BackendFactory {
  return {
    name: 's3 (versitygw)',
    async open() {
      const gw = gateway();
      // The store resolves credentials through the ordinary AWS chain; env vars come first.
      process.env.AWS_ACCESS_KEY_ID = gw.accessKeyId;
      process.env.AWS_SECRET_ACCESS_KEY = gw.secretAccessKey;
      const bucket = `ota-test-${process.pid}-${++bucketCounter}`;
      const admin = new S3Client({
        endpoint: gw.endpoint,
        region: gw.region,
        forcePathStyle: true,
        credentials: { accessKeyId: gw.accessKeyId, secretAccessKey: gw.secretAccessKey },
      });
      await admin.send(new CreateBucketCommand({ Bucket: bucket }));
      const config = s3StoreConfigSchema.parse({
        kind: 's3',
        bucket,
        endpoint: gw.endpoint,
        region: gw.region,
        forcePathStyle: true,
        prefix: 'ota/',
        partSizeMiB: 5,
        ...extra,
      });
      const store = openArtifactStore(config);
      return {
        store,
        leftovers: async () => {
          const found: string[] = [];
          for await (const page of paginateListObjectsV2({ client: admin }, { Bucket: bucket })) {
            for (const item of page.Contents ?? []) {
              if (item.Key && item.Key.split('/').some((s) => s.startsWith('.'))) found.push(item.Key);
            }
          }
          const uploads = await admin.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
          for (const upload of uploads.Uploads ?? []) found.push(`multipart upload ${upload.Key} ${upload.UploadId}`);
          return found;
        },
        dispose: async () => {
          await store.close();
          admin.destroy();
        },
      };
    },
  };
}

export { startVersityGw };
