// Streams store objects to devices with HTTP Range, so an interrupted download resumes where it
// stopped. Bytes are never buffered whole: the store's stream is piped to the socket.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { ArtifactStore } from '../stores/artifact-store.js';
import { InvalidKeyError, NotFoundError } from '../stores/errors.js';
import { parseRangeHeader } from './byte-range.js';
import { HttpError } from './http.js';

/** What devices may download: content-addressed blobs and release documents, nothing else in the store. */
const DOWNLOADABLE_PREFIXES = ['blobs/', 'releases/'];

const RELEASE_DOCUMENT = /^[a-z0-9][a-z0-9._-]*\/(?:[0-9A-Za-z.+-]+\/manifest\.json(?:\.sigstore\.json)?|channels\/[a-z][a-z0-9-]*\/index\.json)$/;

/** /v1/artifacts/<key> → key, or a 404 for keys outside the downloadable prefixes. */
export function artifactKeyFromPath(rest: string): string {
  const key = decodePath(rest);
  if (!DOWNLOADABLE_PREFIXES.some((p) => key.startsWith(p))) throw new HttpError(404, 'not-found', `no artifact ${JSON.stringify(key)}: only blobs/ and releases/ keys are served`);
  return key;
}

/** /v1/releases/<hw>/<version>/manifest.json[.sigstore.json] or <hw>/channels/<ch>/index.json → store key. */
export function releaseKeyFromPath(rest: string): string {
  const path = decodePath(rest);
  if (!RELEASE_DOCUMENT.test(path)) {
    throw new HttpError(404, 'not-found', `no release document ${JSON.stringify(path)}: use <hw>/<version>/manifest.json, <hw>/<version>/manifest.json.sigstore.json or <hw>/channels/<channel>/index.json`);
  }
  return `releases/${path}`;
}

/** Percent-decoding of a download path: a malformed escape (`%zz`, a lone `%`) is the client's error, 400. */
function decodePath(rest: string): string {
  try {
    return decodeURIComponent(rest);
  } catch {
    throw new HttpError(400, 'malformed-path', `the path ${JSON.stringify(rest.slice(0, 200))} is not valid percent-encoding`);
  }
}

/** The fleet's TUF metadata, read-only: N.root.json, N.targets.json, N.snapshot.json, timestamp.json (and plain copies). */
const TUF_DOCUMENT = /^(?:[1-9][0-9]{0,8}\.(?:root|targets|snapshot|release-publish)|root|targets|snapshot|release-publish|timestamp)\.json$/;

/** /v1/tuf/<name> → tuf/<name>, or a 404 for anything that is not a metadata file name. */
export function tufKeyFromPath(rest: string): string {
  const name = decodePath(rest);
  if (!TUF_DOCUMENT.test(name)) throw new HttpError(404, 'not-found', `no TUF metadata ${JSON.stringify(name)}: use <N>.root.json, <N>.targets.json, <N>.snapshot.json or timestamp.json`);
  return `tuf/${name}`;
}

function contentTypeOf(key: string): string {
  return key.endsWith('.json') ? 'application/json' : 'application/octet-stream';
}

export async function serveStoreObject(store: ArtifactStore, key: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let head;
  try {
    head = await store.head(key);
  } catch (error) {
    if (error instanceof InvalidKeyError) throw new HttpError(400, 'invalid-key', error.message);
    throw error;
  }
  if (!head) throw new HttpError(404, 'not-found', `no object ${key} in the artifact store`);
  const headers: Record<string, string | number> = {
    'accept-ranges': 'bytes',
    etag: JSON.stringify(head.etag),
    'content-type': contentTypeOf(key),
    // Blobs are content-addressed, so immutable; named documents (indexes) change.
    'cache-control': key.startsWith('blobs/') ? 'public, max-age=31536000, immutable' : 'no-cache',
  };
  // If-Range: resume only if the object is still the one the client started on.
  const ifRange = req.headers['if-range'];
  const rangeHeader = ifRange && ifRange !== headers.etag ? undefined : req.headers.range;
  const range = parseRangeHeader(rangeHeader, head.size);
  if (range.kind === 'unsatisfiable') {
    throw new HttpError(416, 'range-not-satisfiable', `range ${rangeHeader} is outside the object's ${head.size} bytes`, { 'content-range': `bytes */${head.size}` });
  }
  const status = range.kind === 'partial' ? 206 : 200;
  const start = range.kind === 'partial' ? range.start : 0;
  const end = range.kind === 'partial' ? range.end : head.size - 1;
  headers['content-length'] = head.size === 0 ? 0 : end - start + 1;
  if (range.kind === 'partial') headers['content-range'] = `bytes ${start}-${end}/${head.size}`;
  if (req.method === 'HEAD' || head.size === 0) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  let stream;
  try {
    stream = await store.getStream(key, range.kind === 'partial' ? { start, end } : undefined);
  } catch (error) {
    if (error instanceof NotFoundError) throw new HttpError(404, 'not-found', `no object ${key} in the artifact store`);
    throw error;
  }
  res.writeHead(status, headers);
  // A client that hangs up mid-download rejects the pipeline; nothing more to answer then.
  await pipeline(stream, res).catch(() => {});
}
