// ELF64 little-endian RISC-V executables: the PT_LOAD segments, the entry point and the
// symbol table (spike's HTIF finds `tohost`/`fromhost` there). Firmware, U-Boot and
// ISA tests arrive this way. Everything a user can get wrong is a UserError naming the file.
import { UserError } from "../machine/machine.js";
import type { GuestMemory } from "../machine/guest-memory.js";

const ELF_MAGIC = 0x464c457f; // "\x7fELF", read little-endian
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const ET_EXEC = 2;
const ET_DYN = 3;
const EM_RISCV = 243;
const PT_LOAD = 1;
const SHT_SYMTAB = 2;
const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;

/** e_machine values users are likely to hand us by mistake, for the error message. */
const MACHINE_NAMES: Record<number, string> = {
  3: "i386",
  8: "MIPS",
  20: "PowerPC",
  21: "PowerPC64",
  22: "s390",
  40: "ARM",
  62: "x86-64",
  183: "AArch64",
  243: "RISC-V",
  258: "LoongArch",
};

export interface ElfSegment {
  /** Physical load address (p_paddr), where the bytes go. */
  paddr: number;
  /** Bytes from the file (p_filesz of them). */
  data: Uint8Array;
  /** Size in memory (p_memsz); the tail beyond data is zero-filled. */
  memSize: number;
}

export interface ElfImage {
  /** Entry point as a signed 64-bit value in a Number (the CPU's pc convention). */
  entry: number;
  segments: ElfSegment[];
  /** Lowest and one-past-highest physical address the segments occupy. */
  low: number;
  high: number;
  /** Symbol value by name from .symtab, or undefined (stripped file, no such symbol). */
  symbol(name: string): number | undefined;
}

/** True when the bytes start with the ELF magic. */
export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && readU32(bytes, 0) === ELF_MAGIC;
}

/** Parses an ELF64 RISC-V executable; throws UserError naming `file` when it is not one. */
export function parseElf(bytes: Uint8Array, file: string): ElfImage {
  const fail = (why: string): never => {
    throw new UserError(`${file}: ${why}`);
  };
  if (!isElf(bytes)) fail("not an ELF file");
  if (bytes.length < EHDR_SIZE) fail("truncated ELF header");
  if (bytes[4] !== ELFCLASS64) fail("32-bit ELF, expected a 64-bit RISC-V (RV64) ELF");
  if (bytes[5] !== ELFDATA2LSB) fail("big-endian ELF, expected little-endian RISC-V");
  const machine = readU16(bytes, 18);
  if (machine !== EM_RISCV) {
    fail(`ELF for ${MACHINE_NAMES[machine] ?? `machine ${machine}`}, expected RISC-V`);
  }
  const type = readU16(bytes, 16);
  if (type !== ET_EXEC && type !== ET_DYN) fail(`ELF type ${type} is not an executable`);

  const entry = Number(BigInt.asIntN(64, readU64(bytes, 24)));
  const segments = readSegments(bytes, fail);
  if (segments.length === 0) fail("ELF has no loadable segments");
  const low = Math.min(...segments.map((s) => s.paddr));
  const high = Math.max(...segments.map((s) => s.paddr + s.memSize));
  let symbols: Map<string, number> | undefined;
  return {
    entry,
    segments,
    low,
    high,
    symbol(name) {
      symbols ??= readSymbols(bytes, fail);
      return symbols.get(name);
    },
  };
}

/** Copies the segments into guest RAM; a segment outside RAM is a UserError. */
export function loadElf(mem: GuestMemory, image: ElfImage, file: string): void {
  for (const seg of image.segments) {
    if (!mem.inRam(seg.paddr, Math.max(seg.memSize, 1))) {
      throw new UserError(
        `${file}: segment at 0x${seg.paddr.toString(16)}+0x${seg.memSize.toString(16)} ` +
          `is outside RAM (0x${mem.ramBase.toString(16)}-0x${(mem.ramEnd - 1).toString(16)})`,
      );
    }
    mem.writeBytes(seg.paddr, seg.data);
    mem.bytesForWrite(seg.paddr + seg.data.length, seg.memSize - seg.data.length).fill(0);
  }
}

function readSegments(bytes: Uint8Array, fail: (why: string) => never): ElfSegment[] {
  const phoff = toIndex(readU64(bytes, 32), fail);
  const phentsize = readU16(bytes, 54);
  const phnum = readU16(bytes, 56);
  if (phnum > 0 && phentsize < PHDR_SIZE) fail(`bad program header size ${phentsize}`);
  if (phoff + phnum * phentsize > bytes.length) fail("truncated program headers");
  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (readU32(bytes, ph) !== PT_LOAD) continue;
    const offset = toIndex(readU64(bytes, ph + 8), fail);
    const paddr = toIndex(readU64(bytes, ph + 24), fail);
    const fileSize = toIndex(readU64(bytes, ph + 32), fail);
    const memSize = toIndex(readU64(bytes, ph + 40), fail);
    if (fileSize > memSize) fail(`segment ${i} has file size > memory size`);
    if (offset + fileSize > bytes.length) fail(`truncated: segment ${i} runs past the end of the file`);
    if (memSize === 0) continue;
    segments.push({ paddr, data: bytes.subarray(offset, offset + fileSize), memSize });
  }
  return segments;
}

function readSymbols(bytes: Uint8Array, fail: (why: string) => never): Map<string, number> {
  const symbols = new Map<string, number>();
  const shoff = toIndex(readU64(bytes, 40), fail);
  const shentsize = readU16(bytes, 58);
  const shnum = readU16(bytes, 60);
  if (shoff === 0 || shnum === 0) return symbols;
  if (shentsize < SHDR_SIZE || shoff + shnum * shentsize > bytes.length) fail("truncated section headers");
  const section = (i: number) => {
    const sh = shoff + i * shentsize;
    const offset = toIndex(readU64(bytes, sh + 24), fail);
    const size = toIndex(readU64(bytes, sh + 32), fail);
    if (offset + size > bytes.length) fail(`truncated: section ${i} runs past the end of the file`);
    return { type: readU32(bytes, sh + 4), link: readU32(bytes, sh + 40), offset, size };
  };
  for (let i = 0; i < shnum; i++) {
    const symtab = section(i);
    if (symtab.type !== SHT_SYMTAB) continue;
    if (symtab.link >= shnum) fail("symbol table links to a missing string table");
    const strtab = section(symtab.link);
    for (let s = symtab.offset; s + SYM_SIZE <= symtab.offset + symtab.size; s += SYM_SIZE) {
      const name = cString(bytes, strtab.offset + readU32(bytes, s), strtab.offset + strtab.size);
      if (name !== "" && !symbols.has(name)) {
        symbols.set(name, Number(BigInt.asIntN(64, readU64(bytes, s + 8))));
      }
    }
  }
  return symbols;
}

function cString(bytes: Uint8Array, start: number, limit: number): string {
  let end = start;
  while (end < limit && bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(start, end));
}

/** A file offset or physical address; anything beyond 2^53 cannot be valid here. */
function toIndex(v: bigint, fail: (why: string) => never): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`offset or address 0x${v.toString(16)} out of range`);
  return Number(v);
}

function readU16(b: Uint8Array, off: number): number {
  return b[off] | (b[off + 1] << 8);
}

function readU32(b: Uint8Array, off: number): number {
  return (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (b[off + 3] << 24)) >>> 0;
}

function readU64(b: Uint8Array, off: number): bigint {
  return BigInt(readU32(b, off)) | (BigInt(readU32(b, off + 4)) << 32n);
}
