// Where a device reads the fleet's TUF metadata from (trust/metadata-store.ts reads it through these):
// the gateway's read-only copy (GET /v1/tuf/<name>, docs/device-api.md) or the tuf/ folder an offline
// bundle carries. Neither is trusted; each file is bounded by its role's limit before it is parsed.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { TufMalformedMetadataError } from '../../trust/errors.js';
import { TUF_PREFIX, type MetadataReader } from '../../trust/metadata-store.js';
import { METADATA_LIMITS } from '../../trust/parse.js';
import { GatewayRefusedError, type GatewayClient } from '../gateway/gateway-client.js';

/** The metadata file names a repository holds: N.root.json, N.targets.json, N.release-publish.json, N.snapshot.json, timestamp.json (and plain copies). */
export const TUF_FILE_NAME = /^(?:[1-9][0-9]{0,8}\.(?:root|targets|snapshot|release-publish)|root|targets|snapshot|release-publish|timestamp)\.json$/;

/** The size limit of a metadata file, from the role its name ends in. */
export function limitOf(name: string): number {
  // The publish role is targets metadata (trust/publish-role.ts): the targets limit.
  const role = /(root|targets|snapshot|timestamp)\.json$/.exec(name.replace(/release-publish\.json$/, 'targets.json'))?.[1] as keyof typeof METADATA_LIMITS | undefined;
  if (!role) throw new TufMalformedMetadataError(`${name} is not a TUF metadata file`);
  return METADATA_LIMITS[role];
}

function nameOf(key: string): string {
  const name = key.startsWith(TUF_PREFIX) ? key.slice(TUF_PREFIX.length) : '';
  if (!TUF_FILE_NAME.test(name)) throw new TufMalformedMetadataError(`${key} is not a TUF metadata file`);
  return name;
}

/**
 * The gateway's metadata over HTTP. head() fetches the file (bounded by its role's limit; a 404 is
 * "absent") and getStream() hands out those same bytes, so the walk costs one GET per file.
 */
export function gatewayMetadataReader(client: GatewayClient): MetadataReader {
  const fetched = new Map<string, Buffer>();
  return {
    location: `gateway ${client.baseUrl}`,
    async head(key) {
      const name = nameOf(key);
      try {
        fetched.set(key, await client.getBytes(`/v1/tuf/${name}`, limitOf(name)));
      } catch (err) {
        if (err instanceof GatewayRefusedError && err.status === 404) return undefined;
        throw err;
      }
      return { etag: key };
    },
    async getStream(key) {
      const bytes = fetched.get(key) ?? (await this.head(key), fetched.get(key));
      if (!bytes) throw new Error(`gateway ${client.baseUrl} has no ${key}`);
      return Readable.from([bytes]);
    },
  };
}

/** The tuf/ folder of an offline bundle (a folder, or a tar unpacked into scratch). */
export function bundleMetadataReader(bundleRoot: string, description: string): MetadataReader {
  const pathOf = (key: string) => join(bundleRoot, TUF_PREFIX, nameOf(key));
  return {
    location: description,
    async head(key) {
      const info = await stat(pathOf(key)).catch(() => undefined);
      return info?.isFile() ? { etag: String(info.mtimeMs) } : undefined;
    },
    async getStream(key) {
      return createReadStream(pathOf(key));
    },
  };
}
