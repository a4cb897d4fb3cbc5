// Small HTTP helpers for the gateway: JSON answers, the one error shape ({error, detail}), and
// bounded JSON bodies (a device cannot make the gateway buffer an unbounded request).
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A failure with its HTTP status and machine-readable code; the router turns it into JSON. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(`${status} ${code}: ${detail}`);
    this.name = 'HttpError';
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, error: HttpError): void {
  sendJson(res, error.status, { error: error.code, detail: error.detail }, error.headers);
}

export const MAX_JSON_BODY_BYTES = 64 * 1024;

/** Reads and parses a JSON body of at most maxBytes; 413, 415 and 400 otherwise. */
export async function readJsonBody(req: IncomingMessage, maxBytes = MAX_JSON_BODY_BYTES): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) throw new HttpError(415, 'unsupported-media-type', `content-type must be application/json (got ${JSON.stringify(type) || 'none'})`);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume(); // drain so the connection can answer
    throw new HttpError(413, 'body-too-large', `request body is ${declared} bytes; the limit is ${maxBytes}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      req.resume();
      throw new HttpError(413, 'body-too-large', `request body exceeds the ${maxBytes}-byte limit`);
    }
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    throw new HttpError(400, 'malformed-json', `request body is not valid JSON: ${(error as Error).message}`);
  }
}
