// Builds realistic firmware image pairs for delta tests and the delta benchmark: an "old" image
// made of real ELF binaries from this machine (4 KiB aligned, like a filesystem image), and a
// "new" image that looks like the next release: ~20% of the binaries rebuilt (some new code,
// plus the address shifts of relinking), one binary added mid-image (everything after it
// moves), one removed.
// Deterministic for a given seed and machine. Random bytes would make bsdiff useless, so they
// are only used where that is the point.
// @ts-check
import { closeSync, lstatSync, openSync, readdirSync, readSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const SOURCE_DIRS = ['/usr/bin', '/usr/sbin', '/usr/lib/x86_64-linux-gnu', '/usr/libexec', '/usr/lib'];
const BLOCK = 4096;

/** Deterministic PRNG (mulberry32) so image pairs are reproducible. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function isElf(path) {
  const fd = openSync(path, 'r');
  try {
    const magic = Buffer.alloc(4);
    return readSync(fd, magic, 0, 4, 0) === 4 && magic.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    closeSync(fd);
  }
}

/**
 * Regular ELF files (no symlinks, each inode once) in name order, between minSize and maxSize
 * bytes, until their total reaches targetBytes (plus spare ones for "added" binaries).
 * @returns {{ path: string, size: number }[]}
 */
export function collectElfFiles(targetBytes, { minSize = 16 * 1024, maxSize = 8 * 1024 * 1024, spare = 4 } = {}) {
  const seen = new Set();
  const out = [];
  let total = 0;
  let spareLeft = spare;
  for (const dir of SOURCE_DIRS) {
    let names;
    try {
      names = readdirSync(dir).sort();
    } catch {
      continue;
    }
    for (const name of names) {
      const path = join(dir, name);
      let st;
      try {
        st = lstatSync(path);
      } catch {
        continue;
      }
      if (!st.isFile() || st.size < minSize || st.size > maxSize || seen.has(st.ino)) continue;
      try {
        if (!isElf(path)) continue;
      } catch {
        continue;
      }
      seen.add(st.ino);
      out.push({ path, size: st.size });
      if (total >= targetBytes && --spareLeft < 0) return out;
      total += st.size;
    }
  }
  if (total < targetBytes) throw new Error(`only ${total} bytes of ELF binaries found, wanted ${targetBytes}`);
  return out;
}

function aligned(buf) {
  const pad = (BLOCK - (buf.length % BLOCK)) % BLOCK;
  return pad ? Buffer.concat([buf, Buffer.alloc(pad)]) : buf;
}

/**
 * "Rebuilt" binary: ~5% new code spliced in at a random point (taken from a binary that is not in
 * the image), then the relinking effect: every 16-256 bytes a 32-bit word moves by this binary's
 * address shift (the pattern bsdiff's diff block is built for), and 1 in 10 of those is a
 * changed constant instead (random value).
 */
function rebuild(buf, rand, donor) {
  const newCodeLength = Math.min(donor.length, Math.max(256, Math.floor(buf.length * 0.05)));
  const donorAt = Math.floor(rand() * (donor.length - newCodeLength));
  const at = Math.floor(rand() * buf.length);
  const out = Buffer.concat([buf.subarray(0, at), donor.subarray(donorAt, donorAt + newCodeLength), buf.subarray(at)]);
  const shift = 16 * (1 + Math.floor(rand() * 64));
  for (let pos = Math.floor(rand() * 256); pos < out.length - 4; pos += 16 + Math.floor(rand() * 240)) {
    out.writeUInt32LE(rand() < 0.9 ? (out.readUInt32LE(pos) + shift) >>> 0 : Math.floor(rand() * 0xffffffff), pos);
  }
  return aligned(out);
}

/**
 * Writes oldPath and newPath (~targetBytes each) and returns what was changed.
 * @param {{ oldPath: string, newPath: string, targetBytes: number, seed?: number, rebuiltFraction?: number }} opts
 */
export function buildImagePair({ oldPath, newPath, targetBytes, seed = 1, rebuiltFraction = 0.2 }) {
  const rand = prng(seed);
  const maxSize = Math.max(64 * 1024, Math.min(8 * 1024 * 1024, Math.floor(targetBytes / 6)));
  const files = collectElfFiles(targetBytes, { maxSize, spare: 2 });
  const spare = files.splice(files.length - 2, 2);
  const oldParts = files.map((f) => aligned(readFileSync(f.path)));

  const donor = readFileSync(spare[1].path);
  const removed = Math.floor(rand() * files.length);
  const addedAt = Math.floor(files.length / 2);
  const newParts = [];
  let rebuilt = 0;
  oldParts.forEach((part, i) => {
    if (i === addedAt) newParts.push(aligned(readFileSync(spare[0].path)));
    if (i === removed) return;
    if (rand() < rebuiltFraction) {
      rebuilt++;
      newParts.push(rebuild(part, rand, donor));
    } else newParts.push(part);
  });
  const oldImage = Buffer.concat(oldParts);
  const newImage = Buffer.concat(newParts);
  writeFileSync(oldPath, oldImage);
  writeFileSync(newPath, newImage);
  return { binaries: files.length, rebuilt, added: spare[0].path, removed: files[removed].path, oldBytes: oldImage.length, newBytes: newImage.length };
}

/** One ustar member: 512-byte header (checksum filled in) + body padded to 512 bytes. */
function tarMember(name, body) {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'utf8');
  header.write('0000755\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${body.length.toString(8).padStart(11, '0')}\0`, 124);
  header.write('14000000000\0', 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257, 'latin1');
  header.write('00', 263);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  const pad = (512 - (body.length % 512)) % 512;
  return Buffer.concat([header, body, Buffer.alloc(pad)]);
}

/**
 * Tar root filesystem pair (ustar, one member per ELF binary under usr/bin/): the new image
 * rebuilds a fraction of the binaries (as above, unaligned) and lists its members in another
 * order (reversed halves), so the same path sits at an unrelated offset in each image.
 * @param {{ oldPath: string, newPath: string, targetBytes: number, seed?: number, rebuiltFraction?: number }} opts
 */
export function buildTarImagePair({ oldPath, newPath, targetBytes, seed = 1, rebuiltFraction = 0.3 }) {
  const rand = prng(seed);
  const maxSize = Math.max(64 * 1024, Math.min(8 * 1024 * 1024, Math.floor(targetBytes / 6)));
  const files = collectElfFiles(targetBytes, { maxSize, spare: 1 });
  const donor = readFileSync(files.pop().path);
  const names = files.map((f, i) => `usr/bin/${i.toString().padStart(4, '0')}-${f.path.split('/').pop()}`.slice(0, 99));
  const bodies = files.map((f) => readFileSync(f.path));
  const oldImage = Buffer.concat([...bodies.map((b, i) => tarMember(names[i], b)), Buffer.alloc(1024)]);
  let rebuilt = 0;
  const newBodies = bodies.map((b) => {
    if (rand() >= rebuiltFraction) return b;
    rebuilt++;
    return rebuild(b, rand, donor).subarray(0, b.length + Math.floor(b.length * 0.05));
  });
  const half = Math.floor(files.length / 2);
  const order = [...files.keys()].slice(half).reverse().concat([...files.keys()].slice(0, half).reverse());
  const newImage = Buffer.concat([...order.map((i) => tarMember(names[i], newBodies[i])), Buffer.alloc(1024)]);
  writeFileSync(oldPath, oldImage);
  writeFileSync(newPath, newImage);
  return { members: files.length, rebuilt, oldBytes: oldImage.length, newBytes: newImage.length };
}
