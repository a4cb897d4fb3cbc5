// An ObjectBody (bytes or text) as the Buffer both backends write, without copying bytes.
import type { ObjectBody } from './artifact-store.js';

export function bodyBuffer(body: ObjectBody): Buffer {
  return typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}
