// Where each member of a tar image lives, so the generator can diff every file against the same
// path in the old image. Reads only headers (one 512-byte pread per header; bodies are skipped),
// using the checksum and pax helpers of the streaming tar reader.
import { open } from 'node:fs/promises';
import { looksLikeTarHeader, parsePax } from '../../platform/tar-reader.js';

export interface TarMember {
  path: string;
  /** First byte of the member's headers (pax / GNU long-name records included). */
  start: number;
  /** End of its body, padded to 512 bytes. */
  end: number;
}

const BLOCK = 512;
const MAX_META = 1024 * 1024;

function cString(buf: Buffer, start: number, len: number): string {
  const slice = buf.subarray(start, start + len);
  const nul = slice.indexOf(0);
  return slice.subarray(0, nul === -1 ? slice.length : nul).toString('utf8');
}

/** Octal size field, or GNU base-256 when the high bit is set. */
function sizeField(header: Buffer): number {
  const field = header.subarray(124, 136);
  if (field[0]! & 0x80) {
    let value = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i]!;
    return value;
  }
  const text = cString(header, 124, 12).trim();
  return text ? parseInt(text, 8) : 0;
}

const padded = (size: number) => Math.ceil(size / BLOCK) * BLOCK;

/** Members in file order, or undefined when the file does not start with a tar header. */
export async function readTarLayout(path: string): Promise<TarMember[] | undefined> {
  const fh = await open(path, 'r');
  try {
    const fileSize = (await fh.stat()).size;
    const header = Buffer.alloc(BLOCK);
    const members: TarMember[] = [];
    let pos = 0;
    let memberStart = 0;
    let longName: string | undefined;
    let pax: Record<string, string> = {};
    const readMeta = async (size: number) => {
      if (size > MAX_META) return undefined;
      const body = Buffer.alloc(size);
      await fh.read(body, 0, size, pos + BLOCK);
      return body;
    };
    while (pos + BLOCK <= fileSize) {
      await fh.read(header, 0, BLOCK, pos);
      if (!looksLikeTarHeader(header)) {
        if (pos === 0) return undefined;
        break; // end-of-archive marker (zeros) or trailing data
      }
      const flag = String.fromCharCode(header[156]!);
      const size = sizeField(header);
      if (flag === 'L' || flag === 'x' || flag === 'g' || flag === 'K') {
        const meta = await readMeta(size);
        if (flag === 'L' && meta) longName = cString(meta, 0, size);
        if (flag === 'x' && meta) pax = { ...pax, ...parsePax(meta) };
        pos += BLOCK + padded(size);
        continue;
      }
      let name = cString(header, 0, 100);
      if (header.subarray(257, 263).toString('latin1') === 'ustar\0') {
        const prefix = cString(header, 345, 155);
        if (prefix) name = `${prefix}/${name}`;
      }
      const bodySize = pax.size !== undefined ? Number(pax.size) : size;
      const end = pos + BLOCK + padded(bodySize);
      members.push({ path: pax.path ?? longName ?? name, start: memberStart, end: Math.min(end, fileSize) });
      longName = undefined;
      pax = {};
      pos = memberStart = end;
    }
    return members;
  } finally {
    await fh.close();
  }
}
