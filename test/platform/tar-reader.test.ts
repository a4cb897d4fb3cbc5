import { describe, expect, it } from 'vitest';
import { readTar } from '../../platform/tar-reader.js';

const BLOCK = 512;

function header(name: string, size: number, flag: string): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0);
  h.write('0000644\0', 100);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h[156] = flag.charCodeAt(0);
  h.write('ustar\0', 257);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

/** A pax header claiming `size` bytes, then (if the reader got that far) one small file. */
async function* paxThenFile(size: number): AsyncGenerator<Buffer> {
  yield header('PaxHeader', size, 'x');
  for (let left = size; left > 0; left -= 1 << 16) yield Buffer.alloc(Math.min(1 << 16, left), 0x61);
  yield Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
  yield header('file.txt', 5, '0');
  yield Buffer.concat([Buffer.from('hello'), Buffer.alloc(BLOCK - 5), Buffer.alloc(2 * BLOCK)]);
}

async function names(source: AsyncIterable<Buffer>): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of readTar(source)) out.push(entry.path);
  return out;
}

describe('tar reader bounds on untrusted input', () => {
  it('refuses a pax/GNU meta record over 1 MiB instead of buffering it', async () => {
    await expect(names(paxThenFile(2 * 1024 * 1024))).rejects.toThrow(/tar meta record too large \(2097152 bytes\)/);
  });

  it('reads past a meta record within the limit, and fails on a body cut short', async () => {
    const record = Buffer.from('20 path=renamed.txt\n');
    async function* paxPath() {
      yield header('PaxHeader', record.length, 'x');
      yield Buffer.concat([record, Buffer.alloc(BLOCK - record.length)]);
      yield header('file.txt', 5, '0');
      yield Buffer.concat([Buffer.from('hello'), Buffer.alloc(BLOCK - 5)]);
    }
    expect(await names(paxPath())).toEqual(['renamed.txt']);
    async function* cut() {
      yield header('file.txt', 4096, '0');
      yield Buffer.alloc(100);
    }
    await expect(names(cut())).rejects.toThrow(/truncated tar/);
  });
});
