// Flattened device tree (DTB) writer, per the Devicetree Specification v0.4, chapter 5.
// Layout written: header | memory reservation block | structure block | strings block
// | optional free space (so firmware such as OpenSBI can edit the tree in place).
// All fields are big-endian. Misuse by the board author (unbalanced nodes, properties
// after subnodes, duplicates) throws: that is a host bug, never guest input.

const FDT_MAGIC = 0xd00dfeed;
const FDT_VERSION = 17;
const FDT_LAST_COMP_VERSION = 16;
const HEADER_SIZE = 40;

const FDT_BEGIN_NODE = 0x1;
const FDT_END_NODE = 0x2;
const FDT_PROP = 0x3;
const FDT_END = 0x9;

/** One entry of the memory reservation block: physical ranges the OS must not use. */
export interface FdtReservation {
  address: bigint | number;
  size: bigint | number;
}

export interface FdtWriterOptions {
  /** Physical id of the boot CPU (header field boot_cpuid_phys). */
  bootCpuid?: number;
  reservations?: FdtReservation[];
}

interface OpenNode {
  name: string;
  children: Set<string>;
  props: Set<string>;
  hasChildren: boolean;
}

/** Growable big-endian byte buffer for the structure block. */
class ByteSink {
  private buf = new Uint8Array(4096);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  u32(v: number): void {
    this.reserve(4);
    new DataView(this.buf.buffer).setUint32(this.length, v >>> 0);
    this.length += 4;
  }

  bytes(data: Uint8Array): void {
    this.reserve(data.length);
    this.buf.set(data, this.length);
    this.length += data.length;
  }

  /** Zero-pads to a multiple of 4, as every token in the structure block must be aligned. */
  align4(): void {
    const pad = (4 - (this.length & 3)) & 3;
    this.reserve(pad);
    this.buf.fill(0, this.length, this.length + pad);
    this.length += pad;
  }

  data(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

const encoder = new TextEncoder();

function cstring(s: string): Uint8Array {
  if (s.includes("\0")) throw new Error(`fdt: string contains NUL: ${JSON.stringify(s)}`);
  const b = encoder.encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

/** Splits a 64-bit value into [high, low] 32-bit cells. */
function cells64(v: bigint | number): [number, number] {
  const b = BigInt.asUintN(64, BigInt(v));
  return [Number(b >> 32n), Number(b & 0xffffffffn)];
}

export class FdtWriter {
  private readonly struct = new ByteSink();
  private readonly strings: Uint8Array[] = [];
  private stringsSize = 0;
  private readonly stringOffsets = new Map<string, number>();
  private readonly reservations: FdtReservation[];
  private readonly bootCpuid: number;
  private readonly stack: OpenNode[] = [];
  private rootDone = false;
  private finished = false;
  private lastPhandle = 0;

  constructor(opts: FdtWriterOptions = {}) {
    this.bootCpuid = opts.bootCpuid ?? 0;
    this.reservations = [...(opts.reservations ?? [])];
  }

  /** Adds a /memreserve/ entry. */
  addReservation(address: bigint | number, size: bigint | number): void {
    this.reservations.push({ address, size });
  }

  /** Returns a fresh phandle (1, 2, ...); put it in the node with propU32("phandle", ph). */
  allocPhandle(): number {
    return ++this.lastPhandle;
  }

  /** Opens a node; the first node is the root and must be named "". */
  beginNode(name: string): this {
    this.checkOpen();
    const parent = this.stack[this.stack.length - 1];
    if (parent === undefined) {
      if (this.rootDone) throw new Error("fdt: a second root node");
      if (name !== "") throw new Error(`fdt: the root node must be named "", not "${name}"`);
    } else {
      if (name === "" || name.includes("/")) throw new Error(`fdt: bad node name "${name}"`);
      if (parent.children.has(name)) throw new Error(`fdt: duplicate node "${name}"`);
      parent.children.add(name);
      parent.hasChildren = true;
    }
    this.stack.push({ name, children: new Set(), props: new Set(), hasChildren: false });
    this.struct.u32(FDT_BEGIN_NODE);
    this.struct.bytes(cstring(name));
    this.struct.align4();
    return this;
  }

  endNode(): this {
    this.checkOpen();
    if (this.stack.pop() === undefined) throw new Error("fdt: endNode without beginNode");
    if (this.stack.length === 0) this.rootDone = true;
    this.struct.u32(FDT_END_NODE);
    return this;
  }

  /** A property of 32-bit cells (big-endian), e.g. propU32("reg", 0, 0x1000). */
  propU32(name: string, ...cells: number[]): this {
    const out = new Uint8Array(cells.length * 4);
    const view = new DataView(out.buffer);
    cells.forEach((c, i) => view.setUint32(i * 4, c >>> 0));
    return this.propBytes(name, out);
  }

  /** A property of 64-bit values, each written as two cells (high, low). */
  propU64(name: string, ...values: (bigint | number)[]): this {
    return this.propU32(name, ...values.flatMap(cells64));
  }

  /** A NUL-terminated string property. */
  propString(name: string, s: string): this {
    return this.propBytes(name, cstring(s));
  }

  /** A string-list property (e.g. "compatible"): each string NUL-terminated, concatenated. */
  propStrings(name: string, list: readonly string[]): this {
    const parts = list.map(cstring);
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return this.propBytes(name, out);
  }

  /** A property with no value (a boolean flag such as "interrupt-controller"). */
  propEmpty(name: string): this {
    return this.propBytes(name, new Uint8Array(0));
  }

  /** A property holding raw bytes. */
  propBytes(name: string, value: Uint8Array): this {
    this.checkOpen();
    const node = this.stack[this.stack.length - 1];
    if (node === undefined) throw new Error(`fdt: property "${name}" outside any node`);
    if (node.hasChildren) throw new Error(`fdt: property "${name}" after a subnode of "${node.name}"`);
    if (node.props.has(name)) throw new Error(`fdt: duplicate property "${name}" in "${node.name}"`);
    if (name === "") throw new Error("fdt: empty property name");
    node.props.add(name);
    this.struct.u32(FDT_PROP);
    this.struct.u32(value.length);
    this.struct.u32(this.stringOffset(name));
    this.struct.bytes(value);
    this.struct.align4();
    return this;
  }

  /** Closes the tree and returns the blob; `freeSpace` bytes of slack are added at the end. */
  finish(freeSpace = 0): Uint8Array {
    this.checkOpen();
    if (!this.rootDone) throw new Error(`fdt: ${this.stack.length} node(s) still open`);
    this.finished = true;
    this.struct.u32(FDT_END);

    const rsvOff = HEADER_SIZE; // already 8-aligned, as the spec requires
    const rsvSize = (this.reservations.length + 1) * 16;
    const structOff = rsvOff + rsvSize;
    const structSize = this.struct.length;
    const stringsOff = structOff + structSize;
    const total = stringsOff + this.stringsSize + Math.max(0, Math.floor(freeSpace));

    const out = new Uint8Array(total);
    const view = new DataView(out.buffer);
    const header = [FDT_MAGIC, total, structOff, stringsOff, rsvOff, FDT_VERSION,
      FDT_LAST_COMP_VERSION, this.bootCpuid, this.stringsSize, structSize];
    header.forEach((v, i) => view.setUint32(i * 4, v >>> 0));

    this.reservations.forEach((r, i) => {
      const at = rsvOff + i * 16;
      const [ah, al] = cells64(r.address);
      const [sh, sl] = cells64(r.size);
      view.setUint32(at, ah);
      view.setUint32(at + 4, al);
      view.setUint32(at + 8, sh);
      view.setUint32(at + 12, sl);
    }); // the terminating (0, 0) entry is already zero

    out.set(this.struct.data(), structOff);
    let at = stringsOff;
    for (const s of this.strings) {
      out.set(s, at);
      at += s.length;
    }
    return out;
  }

  /** Offset of `name` in the strings block, adding it once (the table is deduplicated). */
  private stringOffset(name: string): number {
    const known = this.stringOffsets.get(name);
    if (known !== undefined) return known;
    const bytes = cstring(name);
    const off = this.stringsSize;
    this.strings.push(bytes);
    this.stringsSize += bytes.length;
    this.stringOffsets.set(name, off);
    return off;
  }

  private checkOpen(): void {
    if (this.finished) throw new Error("fdt: writer already finished");
  }
}
