// A small ACPI Machine Language encoder (ACPI 6.4 chapter 20, and 6.4 for resource
// descriptors): just the terms our DSDT needs. Every function returns the encoded bytes,
// so a table reads like its ASL: scope("\\_SB", [device("COM1", [name("_HID", ...)])]).
import { sdt } from "./acpi-sdt.js";

const ZERO_OP = 0x00;
const ONE_OP = 0x01;
const NAME_OP = 0x08;
const BYTE_PREFIX = 0x0a;
const WORD_PREFIX = 0x0b;
const DWORD_PREFIX = 0x0c;
const STRING_PREFIX = 0x0d;
const QWORD_PREFIX = 0x0e;
const SCOPE_OP = 0x10;
const BUFFER_OP = 0x11;
const PACKAGE_OP = 0x12;
const EXT_OP_PREFIX = 0x5b;
const DEVICE_OP = 0x82; // after EXT_OP_PREFIX
const ROOT_CHAR = 0x5c; // '\'
const DUAL_NAME_PREFIX = 0x2e;
const MULTI_NAME_PREFIX = 0x2f;

/** Resource descriptor tags (section 6.4). */
const RES_IRQ_NO_FLAGS = 0x22; // small item 0x04, length 2
const RES_IO = 0x47; // small item 0x08, length 7
const RES_END_TAG = 0x79; // small item 0x0f, length 1
const RES_MEMORY32_FIXED = 0x86; // large item
const RES_EXTENDED_INTERRUPT = 0x89; // large item

export type Aml = Uint8Array;

export function concat(parts: Aml[]): Aml {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** PkgLength: the encoded length counts its own bytes (section 20.2.4). */
export function pkgLength(bodyLength: number): Aml {
  if (bodyLength + 1 < 0x40) return Uint8Array.of(bodyLength + 1);
  for (let extra = 1; extra <= 3; extra++) {
    const len = bodyLength + 1 + extra;
    if (len < 1 << (4 + 8 * extra)) {
      const b = new Uint8Array(1 + extra);
      b[0] = (extra << 6) | (len & 0xf);
      for (let i = 1; i <= extra; i++) b[i] = (len >>> (4 + 8 * (i - 1))) & 0xff;
      return b;
    }
  }
  throw new Error(`AML package too long (${bodyLength} bytes)`);
}

/** A 4-character NameSeg: leading A-Z or _, then A-Z, 0-9 or _, padded with _. */
function nameSeg(seg: string): Aml {
  if (!/^[A-Z_][A-Z0-9_]{0,3}$/.test(seg)) throw new Error(`bad AML name segment "${seg}"`);
  return Uint8Array.from(seg.padEnd(4, "_"), (c) => c.charCodeAt(0));
}

/** A NameString such as "_HID", "\\_SB" or "\\_SB.COM1". */
export function nameString(path: string): Aml {
  const root = path.startsWith("\\");
  const segs = (root ? path.slice(1) : path).split(".").filter((s) => s.length > 0);
  const prefix: number[] = root ? [ROOT_CHAR] : [];
  if (segs.length === 0) return Uint8Array.of(...prefix, ZERO_OP); // "\" alone: NullName
  if (segs.length === 2) prefix.push(DUAL_NAME_PREFIX);
  if (segs.length > 2) prefix.push(MULTI_NAME_PREFIX, segs.length);
  return concat([Uint8Array.from(prefix), ...segs.map(nameSeg)]);
}

/** An integer constant, in the shortest encoding. */
export function int(n: number | bigint): Aml {
  const v = BigInt(n);
  if (v < 0n || v >= 1n << 64n) throw new Error(`AML integer out of range: ${n}`);
  if (v === 0n) return Uint8Array.of(ZERO_OP);
  if (v === 1n) return Uint8Array.of(ONE_OP);
  const [prefix, bytes] = v <= 0xffn ? [BYTE_PREFIX, 1] : v <= 0xffffn ? [WORD_PREFIX, 2]
    : v <= 0xffffffffn ? [DWORD_PREFIX, 4] : [QWORD_PREFIX, 8];
  const b = new Uint8Array(1 + bytes);
  b[0] = prefix;
  for (let i = 0; i < bytes; i++) b[1 + i] = Number((v >> BigInt(8 * i)) & 0xffn);
  return b;
}

/** A NUL-terminated ASCII string. */
export function str(s: string): Aml {
  if (!/^[\x01-\x7f]*$/.test(s)) throw new Error(`AML strings are ASCII without NUL: "${s}"`);
  return Uint8Array.from([STRING_PREFIX, ...Array.from(s, (c) => c.charCodeAt(0)), 0]);
}

/** EISAID("PNP0501"): three letters in 5 bits each and four hex digits, as a DWord. */
export function eisaId(id: string): Aml {
  if (!/^[A-Z]{3}[0-9A-F]{4}$/.test(id)) throw new Error(`bad EISA ID "${id}"`);
  const c = (i: number) => id.charCodeAt(i) - 0x40;
  const vendor = (c(0) << 10) | (c(1) << 5) | c(2);
  const product = parseInt(id.slice(3), 16);
  // Stored big-endian within each half: vendor bytes, then product bytes.
  const dword = ((vendor >> 8) | ((vendor & 0xff) << 8) | ((product >> 8) << 16) | ((product & 0xff) << 24)) >>> 0;
  return concat([Uint8Array.of(DWORD_PREFIX), le(dword, 4)]);
}

/** Name(path, value) */
export function name(path: string, value: Aml): Aml {
  return concat([Uint8Array.of(NAME_OP), nameString(path), value]);
}

/** Scope(path) { terms } */
export function scope(path: string, terms: Aml[]): Aml {
  return withPkgLength([SCOPE_OP], concat([nameString(path), ...terms]));
}

/** Device(path) { terms } */
export function device(path: string, terms: Aml[]): Aml {
  return withPkgLength([EXT_OP_PREFIX, DEVICE_OP], concat([nameString(path), ...terms]));
}

/** Package() { elements } (at most 255 elements) */
export function pkg(elements: Aml[]): Aml {
  if (elements.length > 255) throw new Error("AML Package with more than 255 elements");
  return withPkgLength([PACKAGE_OP], concat([Uint8Array.of(elements.length), ...elements]));
}

/** Buffer() { bytes } */
export function buffer(bytes: Uint8Array): Aml {
  return withPkgLength([BUFFER_OP], concat([int(bytes.length), bytes]));
}

/** ResourceTemplate() { descriptors }: a Buffer ending with an End Tag. */
export function resourceTemplate(descriptors: Uint8Array[]): Aml {
  // End Tag checksum 0 means "treat as if the checksum were correct".
  return buffer(concat([...descriptors, Uint8Array.of(RES_END_TAG, 0)]));
}

/** Memory32Fixed(ReadWrite|ReadOnly, base, length) */
export function memory32Fixed(writable: boolean, base: number, length: number): Uint8Array {
  return concat([Uint8Array.of(RES_MEMORY32_FIXED), le(9, 2), Uint8Array.of(writable ? 1 : 0), le(base, 4), le(length, 4)]);
}

export interface InterruptFlags {
  consumer: boolean;
  edge: boolean;
  activeLow: boolean;
  shared: boolean;
}

/** Interrupt(ResourceConsumer, Level, ActiveHigh, Exclusive) { gsi... } (extended descriptor) */
export function interrupt(flags: InterruptFlags, gsis: number[]): Uint8Array {
  const f = (flags.consumer ? 1 : 0) | (flags.edge ? 2 : 0) | (flags.activeLow ? 4 : 0) | (flags.shared ? 8 : 0);
  return concat([
    Uint8Array.of(RES_EXTENDED_INTERRUPT), le(2 + 4 * gsis.length, 2), Uint8Array.of(f, gsis.length),
    ...gsis.map((g) => le(g, 4)),
  ]);
}

/** IO(Decode16, min, max, alignment, length) */
export function io(min: number, max: number, alignment: number, length: number): Uint8Array {
  return concat([Uint8Array.of(RES_IO, 1), le(min, 2), le(max, 2), Uint8Array.of(alignment, length)]);
}

/** IRQNoFlags() { irqs } (ISA IRQs 0..15: edge, active high) */
export function irqNoFlags(irqs: number[]): Uint8Array {
  const mask = irqs.reduce((m, i) => m | (1 << i), 0);
  return concat([Uint8Array.of(RES_IRQ_NO_FLAGS), le(mask, 2)]);
}

/** DefinitionBlock: an AML table (DSDT/SSDT) with the standard header. Revision 2 means
 *  64-bit integers. */
export function definitionBlock(signature: string, terms: Aml[], revision = 2): Uint8Array {
  return sdt(signature, revision, concat(terms));
}

function withPkgLength(op: number[], body: Aml): Aml {
  return concat([Uint8Array.from(op), pkgLength(body.length), body]);
}

function le(value: number, bytes: number): Uint8Array {
  const b = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) b[i] = Math.floor(value / 2 ** (8 * i)) & 0xff;
  return b;
}
