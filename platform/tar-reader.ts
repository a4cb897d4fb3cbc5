// Streaming tar reader (ustar, GNU long names, pax path headers), for the SBOM scan and the ops-delta layout.
// Firmware root filesystems can be hundreds of MB, so entries are handed out one at a
// time with their body as an async stream of chunks; nothing but headers and small
// pax/GNU name records is ever buffered here.
// Not on tar-stream (3.1.7): it buffers a pax/GNU meta record whole, with no cap, before parsing it. Measured on
// Node 20: a 256 MiB pax record cost +520 MiB RSS and was accepted; this reader refuses it past MAX_META at +1 MiB.

export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'directory' | 'other';

export interface TarEntry {
  /** Path as stored, with pax/GNU long-name overrides applied. */
  path: string;
  type: TarEntryType;
  size: number;
  mode: number;
  linkname: string;
  /** Body chunks; may be consumed at most once. Unconsumed bodies are skipped automatically. */
  body(): AsyncGenerator<Buffer>;
}

const BLOCK = 512;

export class TarFormatError extends Error {
  override name = 'TarFormatError';
}

/** Pulls exact byte counts out of an async chunk source without concatenating large runs. */
class ByteQueue {
  private chunks: Buffer[] = [];
  private length = 0;
  private done = false;

  constructor(private readonly source: AsyncIterator<Buffer | Uint8Array | string>) {}

  private async fill(min: number): Promise<boolean> {
    while (this.length < min && !this.done) {
      const next = await this.source.next();
      if (next.done) {
        this.done = true;
        break;
      }
      const buf = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value as Uint8Array);
      if (buf.length === 0) continue;
      this.chunks.push(buf);
      this.length += buf.length;
    }
    return this.length >= min;
  }

  /** Exactly n bytes (small n only: headers), or null at a clean end of stream. */
  async readExact(n: number): Promise<Buffer | null> {
    if (!(await this.fill(n))) {
      if (this.length === 0) return null;
      throw new TarFormatError(`truncated tar: wanted ${n} bytes, got ${this.length}`);
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const head = this.chunks[0]!;
      const take = Math.min(head.length, n - off);
      head.copy(out, off, 0, take);
      off += take;
      this.consumeFront(take);
    }
    return out;
  }

  /** Up to max bytes as they arrive (zero-copy slices of source chunks). */
  async readSome(max: number): Promise<Buffer> {
    if (!(await this.fill(1))) throw new TarFormatError('truncated tar: entry body cut short');
    const head = this.chunks[0]!;
    const take = Math.min(head.length, max);
    const out = head.subarray(0, take);
    this.consumeFront(take);
    return out;
  }

  private consumeFront(n: number): void {
    const head = this.chunks[0]!;
    if (n === head.length) this.chunks.shift();
    else this.chunks[0] = head.subarray(n);
    this.length -= n;
  }
}

function cString(buf: Buffer, start: number, len: number): string {
  const slice = buf.subarray(start, start + len);
  const nul = slice.indexOf(0);
  return slice.subarray(0, nul === -1 ? slice.length : nul).toString('utf8');
}

/** Octal numeric field, or GNU base-256 when the high bit of the first byte is set (files > 8 GiB). */
function numeric(buf: Buffer, start: number, len: number): number {
  const field = buf.subarray(start, start + len);
  if (field[0]! & 0x80) {
    let value = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i]!;
    return value;
  }
  const text = cString(buf, start, len).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`bad numeric field ${JSON.stringify(text)}`);
  return parseInt(text, 8);
}

function checksumOk(header: Buffer): boolean {
  const stored = numeric(header, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  return sum === stored;
}

/** True when a 512-byte block is a tar header with a valid checksum (ustar, GNU or v7). */
export function looksLikeTarHeader(block: Buffer): boolean {
  if (block.length < BLOCK || block.every((b) => b === 0)) return false;
  try {
    return checksumOk(block);
  } catch {
    return false;
  }
}

/** pax records are "<len> <key>=<value>\n" where len counts bytes of the whole record. */
export function parsePax(buf: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < buf.length) {
    const space = buf.indexOf(0x20, pos);
    if (space === -1) break;
    const len = parseInt(buf.subarray(pos, space).toString('ascii'), 10);
    if (!Number.isFinite(len) || len <= 0) break;
    const record = buf.subarray(space + 1, pos + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    pos += len;
  }
  return out;
}

function entryType(flag: string): TarEntryType {
  switch (flag) {
    case '0':
    case '\0':
    case '7':
    case '':
      return 'file';
    case '1':
      return 'hardlink';
    case '2':
      return 'symlink';
    case '5':
      return 'directory';
    default:
      return 'other';
  }
}

// Meta records (long names, pax headers) are tiny in practice; refuse absurd ones
// rather than buffering attacker-sized data.
const MAX_META = 1024 * 1024;

/**
 * Iterate the entries of a tar stream. The caller may read `entry.body()` before asking
 * for the next entry; any unread body bytes are skipped (streamed, not buffered).
 */
export async function* readTar(source: AsyncIterable<Buffer | Uint8Array | string>): AsyncGenerator<TarEntry> {
  const q = new ByteQueue(source[Symbol.asyncIterator]());
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Record<string, string> = {};

  // All meta records before one entry together, too: endless distinct pax records would otherwise pile up.
  let metaSinceEntry = 0;
  const readMeta = async (size: number): Promise<Buffer> => {
    if (size > MAX_META) throw new TarFormatError(`tar meta record too large (${size} bytes)`);
    metaSinceEntry += size;
    if (metaSinceEntry > MAX_META) throw new TarFormatError(`tar meta records before one entry add up to more than ${MAX_META} bytes`);
    const data = size > 0 ? await q.readExact(size) : Buffer.alloc(0);
    if (data === null) throw new TarFormatError('truncated tar meta record');
    await skipPadding(size);
    return data;
  };
  const skipPadding = async (size: number): Promise<void> => {
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (pad > 0 && (await q.readExact(pad)) === null) throw new TarFormatError('truncated tar padding');
  };

  for (;;) {
    const header = await q.readExact(BLOCK);
    if (header === null) return; // tolerate a missing end-of-archive marker
    if (header.every((b) => b === 0)) return; // end-of-archive marker
    if (!looksLikeTarHeader(header)) throw new TarFormatError('tar header checksum mismatch (not a tar archive?)');

    const flag = String.fromCharCode(header[156]!);
    const size = numeric(header, 124, 12);
    const magic = header.subarray(257, 263).toString('latin1');

    if (flag === 'L') {
      longName = cString(await readMeta(size), 0, size);
      continue;
    }
    if (flag === 'K') {
      longLink = cString(await readMeta(size), 0, size);
      continue;
    }
    if (flag === 'x') {
      pax = { ...pax, ...parsePax(await readMeta(size)) };
      continue;
    }
    if (flag === 'g') {
      await readMeta(size); // global headers carry defaults (mtime, charset); paths never apply globally
      continue;
    }

    let name = cString(header, 0, 100);
    // Only POSIX ustar uses the prefix field; GNU ("ustar  ") stores times there.
    if (magic === 'ustar\0') {
      const prefix = cString(header, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    const path = pax.path ?? longName ?? name;
    const linkname = pax.linkpath ?? longLink ?? cString(header, 157, 100);
    const bodySize = pax.size !== undefined ? Number(pax.size) : size;
    longName = longLink = undefined;
    pax = {};
    metaSinceEntry = 0;

    let remaining = bodySize;
    let started = false;
    const body = async function* (): AsyncGenerator<Buffer> {
      if (started) throw new Error(`tar entry body already consumed: ${path}`);
      started = true;
      while (remaining > 0) {
        const chunk = await q.readSome(remaining);
        remaining -= chunk.length;
        yield chunk;
      }
    };

    yield { path, type: entryType(flag), size: bodySize, mode: numeric(header, 100, 8), linkname, body };

    // Drain whatever the consumer left unread, chunk by chunk.
    while (remaining > 0) remaining -= (await q.readSome(remaining)).length;
    await skipPadding(bodySize);
  }
}
