// ELF identification from the first bytes of a file.

export const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
/** Bytes needed to read e_ident, e_type and e_machine. */
export const ELF_HEAD_BYTES = 20;

export interface ElfInfo {
  class: 32 | 64;
  endian: 'little' | 'big';
  /** 'executable' (ET_EXEC), 'shared' (ET_DYN: PIE executables and .so), 'relocatable', 'core', 'other'. */
  elfType: 'executable' | 'shared' | 'relocatable' | 'core' | 'other';
  machine: number;
}

export function readElfHead(head: Buffer): ElfInfo | undefined {
  if (head.length < ELF_HEAD_BYTES || !head.subarray(0, 4).equals(ELF_MAGIC)) return undefined;
  const cls = head[4] === 2 ? 64 : head[4] === 1 ? 32 : undefined;
  const endian = head[5] === 2 ? 'big' : head[5] === 1 ? 'little' : undefined;
  if (!cls || !endian) return undefined;
  const u16 = (o: number) => (endian === 'little' ? head.readUInt16LE(o) : head.readUInt16BE(o));
  const t = u16(16);
  const elfType = t === 2 ? 'executable' : t === 3 ? 'shared' : t === 1 ? 'relocatable' : t === 4 ? 'core' : 'other';
  return { class: cls, endian, elfType, machine: u16(18) };
}

// Common e_machine values, for a readable property.
const MACHINES: Record<number, string> = {
  3: 'x86', 8: 'mips', 20: 'ppc', 21: 'ppc64', 40: 'arm', 62: 'x86_64', 183: 'aarch64', 243: 'riscv',
};

export function machineName(machine: number): string {
  return MACHINES[machine] ?? `em-${machine}`;
}
