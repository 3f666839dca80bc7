// qcow2 refcounts: a refcount table (in RAM, bounded at 8 MiB by the header check) of
// pointers to refcount blocks, each an array of 2^refcount_order-bit counters, one per
// host cluster. New clusters are always taken at the end of the file. Write order keeps
// an interrupted image consistent: a refcount goes up before anything points at the
// cluster, and down only after nothing does, so a crash can leak clusters (qemu-img
// check exit 3, harmless) but never leave a reference with a zero count. Counter updates
// are written at once; new refcount blocks and table moves are fsynced before anything
// names them (they are rare). Clusters freed in this session are reused (the caller frees
// a cluster only once no reference to it is left on disk); holes that were already in the
// image when it was opened are not looked for.
import { BlockIoError } from "./block-backend.js";
import type { HostFile } from "./host-file.js";
import { H_REFTABLE_OFFSET } from "./qcow2-header.js";

const OFFSET_MASK_HI = 0x00ffffff; // bits 32-55 of a table entry
const BLOCK_CACHE = 32;

export class Refcounts {
  private table: number[];
  private tableOffset: number;
  private readonly cs: number;
  private readonly bits: number;
  /** Counters per refcount block. */
  private readonly perBlock: number;
  private readonly blocks = new Map<number, Uint8Array>();
  /** Where the next new cluster goes (cluster-aligned end of the file). */
  end: number;
  /** Lowest cluster index that may have become free (a freed cluster below `end`). */
  private freeHint: number;

  constructor(
    private readonly file: HostFile,
    clusterBits: number,
    refcountOrder: number,
    tableOffset: number,
    tableClusters: number,
  ) {
    this.cs = 2 ** clusterBits;
    this.bits = 2 ** refcountOrder;
    this.perBlock = (this.cs * 8) / this.bits;
    this.tableOffset = tableOffset;
    const raw = new Uint8Array(tableClusters * this.cs);
    file.read(tableOffset, raw);
    this.table = readOffsets(raw);
    this.end = Math.ceil(file.length() / this.cs) * this.cs;
    this.freeHint = this.end / this.cs;
  }

  get clusterSize(): number {
    return this.cs;
  }

  get maxRefcount(): number {
    return 2 ** this.bits - 1;
  }

  get tableRange(): { offset: number; clusters: number } {
    return { offset: this.tableOffset, clusters: Math.ceil((this.table.length * 8) / this.cs) };
  }

  /** Refcount block offsets, in table order (0: none). */
  blockOffsets(): readonly number[] {
    return this.table;
  }

  /** The count of the host cluster at byte `offset`. */
  get(offset: number): number {
    const cluster = offset / this.cs;
    const rt = Math.floor(cluster / this.perBlock);
    if (rt >= this.table.length || this.table[rt] === 0) return 0;
    return getCounter(this.block(this.table[rt]), cluster % this.perBlock, this.bits);
  }

  /** Allocates one cluster with refcount 1: a freed one if any, else at the end of the file. */
  allocate(): number {
    const endCluster = this.end / this.cs;
    for (; this.freeHint < endCluster; this.freeHint++) {
      const offset = this.freeHint * this.cs;
      if (this.get(offset) !== 0) continue;
      this.freeHint++;
      this.add(offset, 1);
      return offset;
    }
    return this.allocateAtEnd(1);
  }

  /** Allocates `n` contiguous clusters at the end of the file (tables), refcount 1 each. */
  allocateAtEnd(n: number): number {
    const first = this.end;
    this.end += n * this.cs;
    for (let i = 0; i < n; i++) this.add(first + i * this.cs, 1);
    return first;
  }

  /** Adds `delta` (±) to the count of the cluster at `offset`. */
  add(offset: number, delta: number): void {
    const cluster = offset / this.cs;
    const rt = Math.floor(cluster / this.perBlock);
    const blockOffset = this.ensureBlock(rt);
    const block = this.block(blockOffset);
    const index = cluster % this.perBlock;
    const value = getCounter(block, index, this.bits) + delta;
    if (value < 0 || value > this.maxRefcount) {
      throw new BlockIoError(`qcow2: refcount of cluster at ${offset} would become ${value}`);
    }
    setCounter(block, index, this.bits, value);
    this.writeCounter(blockOffset, block, index);
    if (value === 0) this.freeHint = Math.min(this.freeHint, cluster);
  }

  private writeCounter(blockOffset: number, block: Uint8Array, index: number): void {
    const byte = Math.floor((index * this.bits) / 8);
    const len = Math.max(1, this.bits / 8);
    this.file.write(blockOffset + byte, block.subarray(byte, byte + len));
  }

  private block(offset: number): Uint8Array {
    let block = this.blocks.get(offset);
    if (block) return block;
    if (offset % this.cs !== 0 || offset + this.cs > Math.max(this.end, this.file.length())) {
      throw new BlockIoError(`qcow2: refcount block at ${offset} is outside the image`);
    }
    block = new Uint8Array(this.cs);
    this.file.read(offset, block);
    if (this.blocks.size >= BLOCK_CACHE) this.blocks.delete(this.blocks.keys().next().value as number);
    this.blocks.set(offset, block);
    return block;
  }

  /** Returns the offset of refcount block `rt`, creating it (and growing the table) if needed. */
  private ensureBlock(rt: number): number {
    if (rt >= this.table.length) this.growTable(rt);
    if (this.table[rt] !== 0) return this.table[rt];
    const offset = this.end;
    this.end += this.cs;
    const block = new Uint8Array(this.cs);
    const self = offset / this.cs;
    if (Math.floor(self / this.perBlock) === rt) {
      setCounter(block, self % this.perBlock, this.bits, 1); // the block counts itself
    } else {
      this.add(offset, 1);
    }
    this.file.write(offset, block);
    this.file.sync(); // rare (a block counts GiBs): the block is on disk before the table names it
    this.blocks.set(offset, block);
    this.table[rt] = offset;
    this.file.write(this.tableOffset + rt * 8, entryBytes(offset));
    return offset;
  }

  /**
   * Moves the table to a bigger one at the end of the file. The new table and any
   * refcount blocks it needs to count itself are written first; the header then switches
   * to it in one 12-byte write; only then is the old table freed.
   */
  private growTable(minIndex: number): void {
    const perCluster = this.cs / 8;
    const entries = Math.ceil((Math.max(minIndex + 1, this.table.length * 2) + 2) / perCluster) * perCluster;
    const clusters = entries / perCluster;
    const table = [...this.table, ...new Array<number>(entries - this.table.length).fill(0)];
    const tableOffset = this.end;
    let cursor = tableOffset + clusters * this.cs;
    const fresh = new Map<number, Uint8Array>();
    const existing: number[] = [];
    for (let c = tableOffset / this.cs; c < cursor / this.cs; c++) {
      const rt = Math.floor(c / this.perBlock);
      if (rt >= entries) throw new BlockIoError("qcow2: refcount table growth overflow");
      if (table[rt] === 0) {
        table[rt] = cursor;
        fresh.set(rt, new Uint8Array(this.cs));
        cursor += this.cs;
      }
      const block = fresh.get(rt);
      if (block) setCounter(block, c % this.perBlock, this.bits, 1);
      else existing.push(c * this.cs);
    }
    for (const [rt, block] of fresh) {
      this.file.write(table[rt], block);
      this.blocks.set(table[rt], block);
    }
    this.file.write(tableOffset, writeOffsets(table, clusters * this.cs));
    for (const offset of existing) {
      const rt = Math.floor(offset / this.cs / this.perBlock);
      const block = this.block(table[rt]);
      const index = (offset / this.cs) % this.perBlock;
      setCounter(block, index, this.bits, getCounter(block, index, this.bits) + 1);
      this.writeCounter(table[rt], block, index);
    }
    const head = new Uint8Array(12);
    const view = new DataView(head.buffer);
    view.setBigUint64(0, BigInt(tableOffset));
    view.setUint32(8, clusters);
    this.file.sync(); // the new table and blocks are on disk before the header names them
    this.file.write(H_REFTABLE_OFFSET, head);
    this.file.sync();
    const old = this.tableRange;
    this.table = table;
    this.tableOffset = tableOffset;
    this.end = cursor;
    for (let i = 0; i < old.clusters; i++) this.add(old.offset + i * this.cs, -1);
  }
}

/** Offsets from big-endian 64-bit table entries (bits 9-55; flags dropped). */
export function readOffsets(raw: Uint8Array): number[] {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Array<number>(raw.length / 8);
  for (let i = 0; i < out.length; i++) {
    out[i] = (view.getUint32(i * 8) & OFFSET_MASK_HI) * 2 ** 32 + ((view.getUint32(i * 8 + 4) & ~0x1ff) >>> 0);
  }
  return out;
}

function writeOffsets(offsets: number[], bytes: number): Uint8Array {
  const raw = new Uint8Array(bytes);
  const view = new DataView(raw.buffer);
  offsets.forEach((o, i) => view.setBigUint64(i * 8, BigInt(o)));
  return raw;
}

export function entryBytes(value: number | bigint): Uint8Array {
  const raw = new Uint8Array(8);
  new DataView(raw.buffer).setBigUint64(0, BigInt(value));
  return raw;
}

export function getCounter(block: Uint8Array, index: number, bits: number): number {
  if (bits >= 8) {
    const bytes = bits / 8;
    let v = 0;
    for (let i = 0; i < bytes; i++) v = v * 256 + block[index * bytes + i];
    return v;
  }
  const perByte = 8 / bits;
  return (block[Math.floor(index / perByte)] >> ((index % perByte) * bits)) & ((1 << bits) - 1);
}

export function setCounter(block: Uint8Array, index: number, bits: number, value: number): void {
  if (bits >= 8) {
    const bytes = bits / 8;
    for (let i = bytes - 1; i >= 0; i--) {
      block[index * bytes + i] = value % 256;
      value = Math.floor(value / 256);
    }
    return;
  }
  const perByte = 8 / bits;
  const shift = (index % perByte) * bits;
  const mask = ((1 << bits) - 1) << shift;
  const at = Math.floor(index / perByte);
  block[at] = (block[at] & ~mask) | ((value << shift) & mask);
}
