// Key layout and key rules shared by all backends. Segments starting with "." are reserved
// for in-flight uploads (temp files, staging objects), so they can never collide with a
// real key and list() can hide them.
import { InvalidKeyError } from './errors.js';

const SHA256_HEX = /^[0-9a-f]{64}$/;

export const BLOB_DIR_KEY = 'blobs/sha256';

export function blobKey(sha256: string): string {
  return `${BLOB_DIR_KEY}/${sha256}`;
}

export function isSha256Hex(value: string): boolean {
  return SHA256_HEX.test(value);
}

export function assertValidKey(key: string): void {
  if (key.length === 0) throw new InvalidKeyError(key, 'empty');
  if (Buffer.byteLength(key) > 1024) throw new InvalidKeyError(key, 'longer than 1024 bytes');
  if (/[\\\0]/.test(key)) throw new InvalidKeyError(key, 'contains a backslash or NUL');
  for (const segment of key.split('/')) {
    if (segment === '') throw new InvalidKeyError(key, 'empty path segment (leading, trailing or double "/")');
    if (segment.startsWith('.')) throw new InvalidKeyError(key, 'segments starting with "." are reserved');
  }
}

/** A list prefix may be empty or end mid-segment, but may not climb out of the store. */
export function assertValidPrefix(prefix: string): void {
  if (prefix === '') return;
  if (prefix.startsWith('/') || /[\\\0]/.test(prefix) || prefix.split('/').some((s) => s === '..' || s === '.')) {
    throw new InvalidKeyError(prefix, 'not a valid list prefix');
  }
}

/** True for keys of in-flight uploads, which list() must not show. */
export function isReservedKey(key: string): boolean {
  return key.split('/').some((segment) => segment.startsWith('.'));
}
